FROM python:3.11-slim
# PyTorch's CPU wheel index; the default PyPI torch would pull several GB of CUDA libraries
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TWINNING_HOST=0.0.0.0 \
    TWINNING_PORT=8000 \
    TWINNING_DATA_DIR=/app/data \
    TWINNING_DATABASE_URL=sqlite:////var/lib/twinning/twinning.db
WORKDIR /app
RUN pip install torch==2.13.0 --index-url "$TORCH_INDEX_URL"
COPY pyproject.toml README.md ./
COPY embeddings embeddings
COPY matching matching
COPY service service
COPY data data
RUN pip install . && mkdir -p /var/lib/twinning && useradd --system twinning && chown twinning /var/lib/twinning
USER twinning
EXPOSE 8000
CMD ["twinning", "serve"]
