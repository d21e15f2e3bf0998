"""Object storage on any S3-compatible endpoint, through an aiobotocore client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import IO, Any

from botocore.exceptions import ClientError

NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})


@dataclass(frozen=True)
class ObjectDownload:
    content_type: str
    content_length: int
    chunks: AsyncIterator[bytes]


def _is_not_found(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in NOT_FOUND_CODES


class ObjectStore:
    """The few S3 operations Pixtract uses, on one bucket by default."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    async def ping(self) -> None:
        await self.client.head_bucket(Bucket=self.bucket)

    async def ensure_bucket(self) -> None:
        try:
            await self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if not _is_not_found(exc):
                raise
            await self.client.create_bucket(Bucket=self.bucket)

    async def put_bytes(self, key: str, data: bytes, content_type: str, **extra: Any) -> None:
        await self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, **extra)

    async def get_bytes_or_none(self, bucket: str, key: str) -> bytes | None:
        """The whole object, or None when it does not exist (deleted meanwhile)."""
        try:
            response = await self.client.get_object(Bucket=bucket or self.bucket, Key=key)
        except ClientError as exc:
            if _is_not_found(exc):
                return None
            raise
        async with response["Body"] as body:
            data: bytes = await body.read()
        return data

    async def open_download(self, key: str, chunk_size: int = 256 * 1024) -> ObjectDownload | None:
        """The object's bytes as a stream, or None when it does not exist."""
        try:
            response = await self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_not_found(exc):
                return None
            raise
        body = response["Body"]

        async def chunks() -> AsyncIterator[bytes]:
            # The context closes the connection even when the client goes away mid-download.
            async with body:
                while chunk := await body.read(chunk_size):
                    yield chunk

        return ObjectDownload(
            content_type=str(response.get("ContentType") or "application/octet-stream"),
            content_length=int(response["ContentLength"]),
            chunks=chunks(),
        )

    async def put_file(self, key: str, source: IO[bytes], *, size: int, content_type: str) -> None:
        """Upload from a (spooled) file; botocore reads it in chunks, never as one bytes object."""
        source.seek(0)
        await self.client.put_object(
            Bucket=self.bucket, Key=key, Body=source, ContentLength=size, ContentType=content_type
        )

    async def exists(self, key: str) -> bool:
        try:
            await self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_not_found(exc):
                return False
            raise
        return True

    async def delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            if batch:
                await self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )

    async def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys

    async def delete_prefix(self, prefix: str) -> int:
        keys = await self.list_keys(prefix)
        await self.delete_keys(keys)
        return len(keys)

    async def presigned_get(self, key: str, expires_s: int, content_disposition: str | None = None) -> str:
        """A short-lived signed GET URL; `content_disposition` must already be a valid header value."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if content_disposition:
            params["ResponseContentDisposition"] = content_disposition
        url: str = await self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)
        return url
