FROM python:latest

WORKDIR /app
COPY . .
RUN pip install -r requirements.txt
RUN pip install . --no-deps

ENTRYPOINT ["python", "-u", "src/leaf_classifier/train.py"]
