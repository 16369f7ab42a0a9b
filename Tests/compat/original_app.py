"""A reconstruction of the original endpoint: one FastAPI route, pydantic v2 model, HS256 JWT, SQLite.

Used only as the reference of the differential tests in this folder: every body the tests generate is
sent to it (in process) and to feedback-gateway, and the answers must match.
"""
import base64
import hashlib
import hmac
import json
import os
import sqlite3
import time

from fastapi import Depends, FastAPI, HTTPException, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

DB = os.environ.get("ORIGINAL_DB", "chat.db")
SECRET = os.environ.get("ORIGINAL_SECRET", "").encode()

app = FastAPI()
bearer = HTTPBearer()


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def verify(credentials: HTTPAuthorizationCredentials = Depends(bearer)) -> str:
    unauthorized = HTTPException(status_code=401, detail="Could not validate credentials", headers={"WWW-Authenticate": "Bearer"})
    try:
        header, payload, signature = credentials.credentials.split(".")
        expected = hmac.new(SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        claims = json.loads(_b64(payload))
        if json.loads(_b64(header)).get("alg") != "HS256" or not hmac.compare_digest(expected, _b64(signature)):
            raise unauthorized
        if "exp" not in claims or claims["exp"] < time.time():
            raise unauthorized
        return claims.get("sub", "")
    except HTTPException:
        raise
    except Exception:
        raise unauthorized from None


class Feedback(BaseModel):
    interaction_id: int
    rating: int


@app.post("/feedback", status_code=204)
def submit_feedback(feedback: Feedback, user: str = Depends(verify)):
    if feedback.rating not in (1, -1):
        raise HTTPException(status_code=422, detail="rating must be 1 (positive) or -1 (negative)")
    try:
        with sqlite3.connect(DB) as db:
            cursor = db.execute("UPDATE interactions SET feedback = ? WHERE id = ?", (feedback.rating, feedback.interaction_id))
    except Exception:
        raise HTTPException(status_code=503, detail="Feedback store unavailable.") from None
    if cursor.rowcount == 0:
        raise HTTPException(status_code=404, detail=f"Interaction {feedback.interaction_id} not found.")
    return Response(status_code=204)
