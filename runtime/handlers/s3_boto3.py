# The paper's own client stack: Python 3 + boto3, run by faaslab's bootstrap inside the
# sandbox. Reads {"op","bucket","key","bytes","part_mb"} on stdin, writes one JSON object
# on stdout: {"bytes","seconds","ttfb_seconds","records","words"}, or {"error","code",
# "status"} for an S3 error. The Go side adds the cgroup's CPU figures.
import json, os, sys, time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

MB = 1000000
CHUNK = 256 * 1024


def client():
    # Debian 12's botocore (1.29) predates AWS_ENDPOINT_URL_S3, so it is passed here;
    # AWS_CA_BUNDLE and the credentials are read from the environment by botocore itself.
    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or None,
                        config=Config(s3={"addressing_style": "path"}))


class Counter:
    def __init__(self):
        self.records = self.words = 0
        self.in_word = False

    def feed(self, chunk):
        self.records += chunk.count(b"\n")
        words = chunk.split()
        n = len(words)
        if n and self.in_word and not chunk[:1].isspace():
            n -= 1  # the word continues from the previous chunk
        self.words += n
        self.in_word = bool(chunk) and not chunk[-1:].isspace()


def get(s3, req, start):
    cnt, total, ttfb = Counter(), 0, 0.0
    part = req.get("part_mb", 0) * MB
    ranges = [None]
    if part:
        size = s3.head_object(Bucket=req["bucket"], Key=req["key"])["ContentLength"]
        ranges = ["bytes=%d-%d" % (o, min(o + part, size) - 1) for o in range(0, size, part)]
    for rng in ranges:
        kw = {"Range": rng} if rng else {}
        body = s3.get_object(Bucket=req["bucket"], Key=req["key"], **kw)["Body"]
        for chunk in iter(lambda: body.read(CHUNK), b""):
            if total == 0:
                ttfb = time.monotonic() - start
            total += len(chunk)
            cnt.feed(chunk)
    return total, ttfb, cnt


class Source:
    """size bytes of text (a block repeated), counted once as boto3 reads it."""

    def __init__(self, size, block, start):
        self.size, self.block, self.pos, self.counted = size, block, 0, 0
        self.start, self.ttfb, self.cnt = start, 0.0, Counter()

    def read(self, n=-1):
        if self.pos >= self.size:
            return b""
        if n is None or n < 0:
            n = self.size - self.pos
        n = min(n, self.size - self.pos)
        out, pos = bytearray(), self.pos
        while len(out) < n:
            i = pos % len(self.block)
            piece = self.block[i:i + n - len(out)]
            out += piece
            pos += len(piece)
        if not self.ttfb:
            self.ttfb = time.monotonic() - self.start
        if pos > self.counted:
            self.cnt.feed(bytes(out[len(out) - (pos - max(self.counted, self.pos)):]))
            self.counted = pos
        self.pos = pos
        return bytes(out)

    def seek(self, off, whence=0):
        self.pos = off if whence == 0 else (self.pos + off if whence == 1 else self.size + off)
        return self.pos

    def tell(self):
        return self.pos


def put(s3, req, start, block):
    size, part = req["bytes"], req.get("part_mb", 0) * MB
    src = Source(size, block, start)
    if not part:
        s3.put_object(Bucket=req["bucket"], Key=req["key"], Body=src, ContentLength=size)
        return size, src.ttfb, src.cnt
    up = s3.create_multipart_upload(Bucket=req["bucket"], Key=req["key"])["UploadId"]
    parts = []
    try:
        for num, off in enumerate(range(0, size, part), start=1):
            n = min(part, size - off)
            src.seek(off)
            data = src.read(n)
            etag = s3.upload_part(Bucket=req["bucket"], Key=req["key"], UploadId=up, PartNumber=num, Body=data)["ETag"]
            parts.append({"ETag": etag, "PartNumber": num})
        s3.complete_multipart_upload(Bucket=req["bucket"], Key=req["key"], UploadId=up, MultipartUpload={"Parts": parts})
    except Exception:
        s3.abort_multipart_upload(Bucket=req["bucket"], Key=req["key"], UploadId=up)
        raise
    return size, src.ttfb, src.cnt


def main():
    req = json.load(sys.stdin)
    s3 = client()
    start = time.monotonic()
    try:
        if req["op"] == "get":
            n, ttfb, cnt = get(s3, req, start)
        else:
            with open(req["block_file"], "rb") as f:
                block = f.read()
            n, ttfb, cnt = put(s3, req, start, block)
    except ClientError as e:
        err = e.response.get("Error", {})
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        json.dump({"error": str(e), "code": err.get("Code", "S3Error"), "status": status}, sys.stdout)
        return
    json.dump({"bytes": n, "seconds": time.monotonic() - start, "ttfb_seconds": ttfb,
               "records": cnt.records, "words": cnt.words}, sys.stdout)


main()
