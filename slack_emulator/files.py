"""Files upload v2: ``files.getUploadURLExternal``, the upload itself, ``files.completeUploadExternal``.

The first call reserves a file id and an upload URL on the emulator; the app POSTs the bytes
there; the completion call shares the files into a channel (optionally in a thread, with an
``initial_comment``) as one message from the bot carrying ``files``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from slack_emulator.config import Urls
from slack_emulator.errors import SlackError
from slack_emulator.workspace import Workspace

JSON = dict[str, Any]


@dataclass
class StoredFile:
    id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str = ""


class FileStore:
    def __init__(self, ws: Workspace, urls: Urls) -> None:
        self.ws = ws
        self.urls = urls
        self.files: dict[str, StoredFile] = {}

    def get_upload_url(self, args: JSON) -> JSON:
        filename = str(args.get("filename") or "")
        if not filename:
            raise SlackError("invalid_arguments")
        try:
            length = int(args.get("length") or 0)
        except ValueError as exc:
            raise SlackError("invalid_arguments") from exc
        file_id = "F" + secrets.token_hex(5).upper()
        self.files[file_id] = StoredFile(file_id, filename, length)
        return {"upload_url": f"{self.urls.base}/upload/v1/{file_id}", "file_id": file_id}

    async def handle_upload(self, request: web.Request) -> web.Response:
        stored = self.files.get(request.match_info["file_id"])
        if stored is None:
            return web.Response(status=404, text="file not found")
        if request.content_type == "multipart/form-data":
            form = await request.post()
            field = next(iter(form.values()), b"")
            data = field.file.read() if isinstance(field, web.FileField) else str(field).encode()
        else:
            data = await request.read()
        stored.content = data
        return web.Response(text=f"OK - {len(data)}")

    def complete(self, args: JSON) -> JSON:
        entries = args.get("files")
        if isinstance(entries, str):
            entries = json.loads(entries)
        if not isinstance(entries, list) or not entries:
            raise SlackError("invalid_arguments")
        shared: list[JSON] = []
        for entry in entries:
            stored = self.files.get(str(entry.get("id")))
            if stored is None or stored.content is None:
                raise SlackError("file_not_found")
            stored.title = str(entry.get("title") or stored.filename)
            shared.append(
                {"id": stored.id, "title": stored.title, "name": stored.filename, "size": len(stored.content)}
            )
        channel_ref = args.get("channel_id") or args.get("channels")
        if channel_ref:
            channel = self.ws.find_channel(str(channel_ref).split(",")[0])
            if channel is None:
                raise SlackError("channel_not_found")
            thread_ts = args.get("thread_ts")
            self.ws.post_as_bot(
                channel.id,
                str(args.get("initial_comment") or ""),
                thread_ts=str(thread_ts) if thread_ts else None,
                files=shared,
                subtype="file_share",
            )
        return {"files": [{"id": f["id"], "title": f["title"]} for f in shared]}
