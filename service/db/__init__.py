"""Storage: the database engine and migrations, the models, the queries (`store`) and the vector cache."""
