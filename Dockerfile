# The Abonent app (Python 3.11). Rasa runs in its own container (nlu/Dockerfile).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot bot
COPY nlu nlu
COPY channels channels
COPY handoff handoff
COPY knowledge_base knowledge_base
COPY backoffice backoffice
RUN pip install . && useradd --uid 1000 --create-home abonent
USER abonent
ENV ABONENT_HOST=0.0.0.0 ABONENT_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
# RASA_URL is set by docker-compose, so `abonent run` does not start a local Rasa.
CMD ["abonent", "run"]
