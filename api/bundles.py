"""`GET /v1/bundles` and `GET /v1/bundles/{id}`: 一件事一次办, a life event's matters as one cited checklist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.dependencies import BundlesDep
from api.schemas import CitationOut, error_responses
from assistant.bundles import Bundle

router = APIRouter(prefix="/v1", tags=["bundles"])
BundleId = Annotated[str, Path(min_length=1, max_length=120, pattern=r"^[a-z0-9][a-z0-9-]*$",
                               description="The bundle id (front-matter `id`, e.g. bundle-newborn).")]


class BundleSummary(BaseModel):
    id: str
    title: str
    event: str
    department: str
    steps: int
    sample: bool = Field(description="True for sample (示例) data, not a real office's bundle.")


class BundleList(BaseModel):
    bundles: list[BundleSummary]


class CarriedOut(BaseModel):
    name: str
    reused_by: list[int] = Field(description="Later steps whose materials name this document.")


class StepOut(BaseModel):
    number: int
    guide_id: str
    title: str
    note: str
    together_with: list[int] = Field(description="Steps that can be done at the same visit.")
    materials: list[str] = Field(description="The guide's 申请材料, as written.")
    carries: list[CarriedOut] = Field(description="Documents this step produces.")
    citation: int = Field(description="Number of the citation behind this step.")


class MaterialLine(BaseModel):
    step: int
    text: str


class MaterialOut(BaseModel):
    name: str
    needed_by: list[int]
    lines: list[MaterialLine] = Field(description="How each step's guide words it.")
    produced_by: int | None = Field(description="The step that produces it, when one does.")
    reused_by: list[int]
    citations: list[int]


class BundleOut(BaseModel):
    id: str
    title: str
    event: str
    department: str
    effective_date: str
    expires: str
    source_url: str
    sample: bool
    steps: list[StepOut]
    groups: list[list[int]] = Field(description="Steps that can be done together.")
    materials: list[MaterialOut] = Field(description="Every material once, with the steps that need it.")
    citations: list[CitationOut]
    warnings: list[str]

    @classmethod
    def of(cls, bundle: Bundle) -> BundleOut:
        steps = [StepOut(number=s.number, guide_id=s.guide_id, title=s.title, note=s.note,
                         together_with=list(s.together_with), materials=list(s.materials),
                         carries=[CarriedOut(name=c.name, reused_by=list(c.reused_by)) for c in s.carries],
                         citation=s.citation) for s in bundle.steps]
        materials = [MaterialOut(name=m.name, needed_by=list(m.needed_by),
                                 lines=[MaterialLine(step=n, text=t) for n, t in m.lines], produced_by=m.produced_by,
                                 reused_by=list(m.reused_by), citations=list(m.citations)) for m in bundle.materials]
        return cls(id=bundle.bundle_id, title=bundle.title, event=bundle.event, department=bundle.department,
                   effective_date=bundle.effective_date, expires=bundle.expires, source_url=bundle.source_url,
                   sample=bundle.sample, steps=steps, groups=[list(g) for g in bundle.groups], materials=materials,
                   citations=[CitationOut.of(c) for c in bundle.citations], warnings=list(bundle.warnings))


@router.get("/bundles", response_model=BundleList, responses=error_responses(500))
def list_bundles(bundles: BundlesDep) -> BundleList:
    """Every 一件事一次办 bundle of the corpus."""
    return BundleList(bundles=[BundleSummary(id=d.doc_id, title=d.title, event=str(d.extra.get("event", "")),
                                             department=d.department, steps=len(d.extra.get("steps") or []),
                                             sample=d.sample) for d in bundles.documents()])


@router.get("/bundles/{bundle_id}", response_model=BundleOut, responses=error_responses(404, 422, 500))
def get_bundle(bundle_id: BundleId, bundles: BundlesDep) -> BundleOut:
    """One bundle as a checklist: ordered steps, what can be done together, materials listed once, citations."""
    return BundleOut.of(bundles.get(bundle_id))  # unknown id → 404 bundle_not_found (api/errors.py)
