"""The media worker's last caption-engine report, one item (``MEDIAWORKER/CAPTIONENGINE``): every
worker of a stage runs the same engine, so the newest report stands for all of them."""
from __future__ import annotations

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.table import Table
from chalicelib.domain.captions import CaptionEngine


class DynamoCaptionEngines:
    def __init__(self, table: Table) -> None:
        self.table = table

    def put_engine(self, engine: CaptionEngine) -> None:
        self.table.put({"PK": keys.MEDIA_WORKER_PK, "SK": keys.CAPTION_ENGINE, **engine.model_dump(mode="json")})

    def engine(self) -> CaptionEngine | None:
        item = self.table.get(keys.MEDIA_WORKER_PK, keys.CAPTION_ENGINE)
        if item is None:
            return None
        return CaptionEngine.model_validate({k: v for k, v in item.items() if k not in ("PK", "SK")})
