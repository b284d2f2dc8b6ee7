"""The ceiling for bench/api_throughput.py: FastAPI with one route and nothing else.

The route is `async def` returning a constant dict: the cheapest request FastAPI answers (a sync
`def` route pays a thread-pool hop that halves this ceiling and would flatter every ratio).
"""

from fastapi import FastAPI

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
