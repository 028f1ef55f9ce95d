"""``/v1/files`` and ``/v1/vector_stores``: files the assistants read and search, as OpenAI served them.

An upload is ``multipart/form-data`` with ``file`` and ``purpose`` (``assistants``), as the SDK's
``client.files.create`` sends it; the body limit (``TRADEWIND_MAX_BODY_BYTES``) is checked before
the form is parsed, the file limit (``TRADEWIND_MAX_FILE_BYTES``) as it is read. Routes are thin:
the owner comes from the bearer key, ``FileService`` and ``VectorStores`` do the rest.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from tradewind.api.assistants_v1 import OBJECT_BODY, Cursor, Limit, Order, json_response, object_body, off
from tradewind.api.deps import ContainerDep
from tradewind.api.error_schemas import openai
from tradewind.api.errors import UnsupportedMediaType
from tradewind.api.openai_v1 import Owner
from tradewind.assistants.chat_request import InvalidRequest

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["files"])
Purpose = Annotated[str | None, Query(max_length=32)]
_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "purpose"],
    "properties": {"file": {"type": "string", "format": "binary"}, "purpose": {"type": "string", "enum": ["assistants"]}},
}}}}}


@router.post("/files", summary="Upload a file (purpose assistants: text, Markdown, CSV, JSON or PDF)",
             response_model=None, openapi_extra=_UPLOAD_BODY)
async def upload_file(request: Request, container: ContainerDep, owner: Owner) -> Response:
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != "multipart/form-data":
        raise UnsupportedMediaType("an upload is multipart/form-data with the fields file and purpose",
                                   field="content-type")
    files = container.files
    async with request.form(max_files=1, max_fields=8, max_part_size=64 * 1024) as form:
        upload = form.get("file")
        purpose = form.get("purpose")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest("file is required: a file part named file", field="file",
                                 code="missing_required_parameter")
        data = await upload.read(files.max_bytes + 1)  # one byte more tells it is too large
        return json_response(await off(files.upload, owner, filename=upload.filename,
                                       purpose=purpose if isinstance(purpose, str) else None, data=data))


@router.get("/files", summary="List files", response_model=None)
async def list_files(container: ContainerDep, owner: Owner, purpose: Purpose = None, limit: Limit = 20,
                     order: Order = "desc", after: Cursor = None, before: Cursor = None) -> Response:
    return json_response(await off(container.files.page, owner, purpose=purpose, limit=limit, order=order,
                                   after=after, before=before))


@router.get("/files/{file_id}", summary="Retrieve a file", response_model=None, responses=openai(404))
async def get_file(file_id: str, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await off(container.files.get, owner, file_id))


@router.get("/files/{file_id}/content", summary="A file's content, as uploaded", response_model=None,
            responses={200: {"description": "The bytes as uploaded",
                             "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                       **openai(404)})
async def file_content(file_id: str, container: ContainerDep, owner: Owner) -> Response:
    document, data = await off(container.files.content, owner, file_id)
    disposition = f"attachment; filename*=UTF-8''{quote(document['filename'], safe='')}"
    return Response(data, media_type="application/octet-stream", headers={"Content-Disposition": disposition,
                                                                           "X-Content-Type-Options": "nosniff"})


@router.delete("/files/{file_id}", summary="Delete a file (and its search index)", response_model=None,
               responses=openai(404))
async def delete_file(file_id: str, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await off(container.files.delete, owner, file_id))


# --- vector stores -----------------------------------------------------------------------------------
@router.post("/vector_stores", summary="Create a vector store (a set of files file_search searches)",
             response_model=None, openapi_extra=OBJECT_BODY, responses=openai(404))
async def create_vector_store(request: Request, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await off(container.vector_stores.create, owner, await object_body(request)))


@router.get("/vector_stores", summary="List vector stores", response_model=None)
async def list_vector_stores(container: ContainerDep, owner: Owner, limit: Limit = 20, order: Order = "desc",
                             after: Cursor = None, before: Cursor = None) -> Response:
    return json_response(await off(container.vector_stores.page, owner, limit=limit, order=order, after=after,
                                   before=before))


@router.get("/vector_stores/{vector_store_id}", summary="Retrieve a vector store", response_model=None,
            responses=openai(404))
async def get_vector_store(vector_store_id: str, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await off(container.vector_stores.get, owner, vector_store_id))


@router.post("/vector_stores/{vector_store_id}", summary="Modify a vector store's name or metadata",
             response_model=None, openapi_extra=OBJECT_BODY, responses=openai(404))
async def modify_vector_store(vector_store_id: str, request: Request, container: ContainerDep,
                              owner: Owner) -> Response:
    return json_response(await off(container.vector_stores.modify, owner, vector_store_id,
                                   await object_body(request)))


@router.delete("/vector_stores/{vector_store_id}", summary="Delete a vector store (its files stay)",
               response_model=None, responses=openai(404))
async def delete_vector_store(vector_store_id: str, container: ContainerDep, owner: Owner) -> Response:
    return json_response(await off(container.vector_stores.delete, owner, vector_store_id))
