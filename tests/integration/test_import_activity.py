"""The workflow's import activity imports the stored source as the project was created: with or
without EPUB front matter (the project row keeps the choice)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.documents import DocumentActivities
from activities.resources import Resources
from tests.unit.test_book_metadata import tiny_epub
from tests.unit.test_book_tags import PNG
from voxflow import naming
from voxflow.artifacts import open_store
from voxflow.contracts import ProjectInput
from voxflow.conversion import create_project
from voxflow.cover import Cover
from voxflow.db import make_engine, migrate, repository, session_scope
from voxflow.db.models import Project
from voxflow.settings import Settings

SHERLOCK = Path(__file__).parents[1] / "assets" / "standardebooks-sherlock-holmes.epub"


@pytest.mark.parametrize(("include", "chapters"), [(False, 12), (True, 16)])
async def test_import_follows_the_projects_front_matter_choice(tmp_path, include, chapters):
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'v.db'}")
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        project_id, parsed = create_project(
            settings,
            SHERLOCK.read_bytes(),
            SHERLOCK.name,
            voice="joe",
            output_format="mp3",
            engine=engine,
            store=open_store(settings),
            include_front_matter=include,
        )
    finally:
        engine.dispose()
    activities = DocumentActivities(Resources(settings))
    manifest = await ActivityEnvironment().run(activities.import_document, ProjectInput(project_id))
    assert len(parsed.chapters) == len(manifest.chapters) == chapters
    titles = [c.title for c in manifest.chapters]
    assert (titles[0] == "A Scandal in Bohemia") is not include
    assert "A Scandal in Bohemia" in titles


def _create(settings: Settings, data: bytes, name: str, cover: Cover | None = None) -> int:
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        project_id, _ = create_project(
            settings,
            data,
            name,
            voice="joe",
            output_format="mp3",
            engine=engine,
            store=open_store(settings),
            cover=cover,
        )
    finally:
        engine.dispose()
    return project_id


def _project(settings: Settings, project_id: int) -> Project:
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            project = repository.get_project(session, project_id)
            session.expunge(project)
            return project
    finally:
        engine.dispose()


async def test_import_keeps_the_epubs_metadata_and_png_cover(tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'v.db'}")
    project_id = _create(settings, tiny_epub(), "tiny.epub")
    await ActivityEnvironment().run(
        DocumentActivities(Resources(settings)).import_document, ProjectInput(project_id)
    )
    project = _project(settings, project_id)
    assert (project.author, project.year, project.language) == ("Jane Roe, John Doe", "1923", "en")
    assert project.cover_key == naming.cover_key(project_id, "png")
    assert open_store(settings).get(project.cover_key) == PNG


async def test_a_given_cover_wins_over_the_epubs(tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'v.db'}")
    jpeg = Cover(b"\xff\xd8\xff\xe0 a JPEG, as far as its magic bytes go", "image/jpeg")
    project_id = _create(settings, tiny_epub(), "tiny.epub", cover=jpeg)
    await ActivityEnvironment().run(
        DocumentActivities(Resources(settings)).import_document, ProjectInput(project_id)
    )
    project = _project(settings, project_id)
    assert project.cover_key == naming.cover_key(project_id, "jpg")
    assert open_store(settings).get(project.cover_key) == jpeg.data
    assert not open_store(settings).exists(naming.cover_key(project_id, "png"))


async def test_sherlocks_svg_cover_is_not_kept(tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'v.db'}")
    project_id = _create(settings, SHERLOCK.read_bytes(), SHERLOCK.name)
    await ActivityEnvironment().run(
        DocumentActivities(Resources(settings)).import_document, ProjectInput(project_id)
    )
    project = _project(settings, project_id)
    assert project.author == "Arthur Conan Doyle" and project.cover_key is None
