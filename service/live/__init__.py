"""The live index the app holds, kept in step with profile writes, and what builds a recommender from profiles."""
