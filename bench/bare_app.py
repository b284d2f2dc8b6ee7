"""The ceiling for bench/api_throughput.py: FastAPI with one route and nothing else.

The route is a plain `def` returning a constant dict, exactly like hostplane's own /healthz, so it
pays the same FastAPI + threadpool cost per request that hostplane's (sync) handlers pay.
"""

from fastapi import FastAPI

app = FastAPI()


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
