"""LibreTranslate's file endpoints of `nmt serve` (the routes are listed in api.py's docstring), mixed into
api.Service, whose key check, language pairs, limits and batched translation they use:

    POST /translate_file   multipart file, source, target, api_key -> {"translatedFileUrl"}
    GET  /download_file/TOKEN/NAME   the translated file, kept by files.FileStore
    GET  /frontend/settings   what LibreTranslate's clients read first

A document is read and written off the event loop (asyncio.to_thread) and its blocks go to the batcher a
chunk at a time, so the short requests that arrive meanwhile share the decoder with it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse

from nmt import NMTError
from nmt.config import DocumentLimits
from nmt.document_pipeline import document_chunks, finish_document
from nmt.serving.fields import NAMES, ApiError, check_key, readable
from nmt.text import documents
from nmt.text.lines import Translation

# a document's blocks submitted to the batcher at a time: a long document shares the decoder with the short
# requests that arrive meanwhile instead of holding it, and stays within the queue's bound
FILE_CHUNK = 64
MEDIA_TYPES = {"txt": "text/plain; charset=utf-8", "html": "text/html; charset=utf-8",
               "md": "text/markdown; charset=utf-8", "srt": "application/x-subrip", "vtt": "text/vtt",
               "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
               "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
               "odt": "application/vnd.oasis.opendocument.text",
               "odp": "application/vnd.oasis.opendocument.presentation", "epub": "application/epub+zip"}


class FileEndpoints:
    """The file endpoints, for api.Service (see the module's docstring)."""

    async def translate_file(self, request: Request) -> JSONResponse:
        """LibreTranslate's file endpoint: the document translated, kept for download (serving/files.py)."""
        upload, fields = await self._upload(request)
        name = Path(upload.filename or "").name
        kind = documents.kind_of(name)
        if kind is None or not documents.available(kind):
            raise ApiError(400, f"{name or 'the file'}: not a supported document; send one of "
                                f"{', '.join(self._file_formats())}")
        data = await upload.read()
        await upload.close()
        if len(data) > self.limits.max_file:
            raise ApiError(413, f"the file has {len(data):,} bytes, more than the limit of "
                                f"{self.limits.max_file:,}")
        try:
            document = await asyncio.to_thread(documents.open_document, data, kind,
                                               DocumentLimits(max_bytes=self.limits.max_file))
        except NMTError as e:
            raise ApiError(400, f"{name}: {e}") from None
        sample = readable([" ".join(document.blocks)[:2000]], document.block_format)
        (pair,), _ = self._pairs(fields, sample)
        done: list[Translation] = []
        for chunk in document_chunks(document, FILE_CHUNK):
            done += await self._translate([pair] * len(chunk), chunk, self.decode,
                                          format=document.block_format)
        result = await asyncio.to_thread(finish_document, document, done)
        out_name = f"{Path(name).stem}.{pair[1]}.{result.kind}"
        token = self.files.put(result.data, out_name)
        if token is None:
            raise ApiError(413, "the translated file is larger than the server keeps for download")
        url = f"{str(request.base_url).rstrip('/')}/download_file/{token}/{quote(out_name)}"
        return JSONResponse({"translatedFileUrl": url})

    async def _upload(self, request: Request):
        """The multipart request's file and its text fields, within the size limit, the API key checked."""
        length = request.headers.get("content-length", "")
        if not length.isdigit():
            raise ApiError(411, "send the file with its Content-Length, as multipart/form-data")
        if int(length) > self.limits.max_file + 65_536:
            raise ApiError(413, f"the request has {int(length):,} bytes; files may have at most "
                                f"{self.limits.max_file:,}")
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ApiError(400, "send the document as multipart/form-data with the fields file, source and "
                                "target (e.g. curl -F file=@report.docx -F source=de -F target=en)")
        try:
            form = await request.form(max_files=1, max_fields=16)
        except Exception as e:  # starlette's parser: a malformed body or too many parts
            raise ApiError(400, f"the multipart body cannot be read ({e})") from None
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        check_key(request, fields, self.api_key)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "no file: send the document in the multipart field file")
        return upload, fields

    async def download_file(self, request: Request) -> FileResponse:
        stored = self.files.get(request.path_params["token"])
        if stored is None:
            raise ApiError(404, f"no such file; translated files are kept {self.limits.file_minutes:g} "
                                "minutes")
        kind = documents.kind_of(stored.name) or "txt"
        return FileResponse(stored.path, filename=stored.name,
                            media_type=MEDIA_TYPES.get(kind, "application/octet-stream"))

    async def settings(self, request: Request) -> JSONResponse:
        """What LibreTranslate's web client and file clients read before anything else."""
        source, target = next(iter(self.models))
        return JSONResponse({
            "charLimit": self.limits.max_chars, "frontendTimeout": 500, "apiKeys": self.api_key is not None,
            "keyRequired": self.api_key is not None, "suggestions": False,
            "filesTranslation": bool(self._file_formats()), "supportedFilesFormat": self._file_formats(),
            "language": {"source": {"code": source, "name": NAMES.get(source, source)},
                         "target": {"code": target, "name": NAMES.get(target, target)}}})

    @staticmethod
    def _file_formats() -> list[str]:
        return ["." + kind for kind in documents.KINDS if documents.available(kind)]
