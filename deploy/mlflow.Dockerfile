# MLflow as compose runs it: upstream's image with what it lacks for this stack, the basic-auth
# app's dependencies (mlflow[auth]) and the PostgreSQL driver for the backend store. Pinned to
# the versions tools/requirements.txt tests against.
FROM ghcr.io/mlflow/mlflow:v3.17.2
RUN pip install --no-cache-dir "mlflow[auth]==3.17.2" "psycopg[binary]==3.3.9"
