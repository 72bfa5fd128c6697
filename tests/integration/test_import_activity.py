"""The workflow's import activity imports the stored source as the project was created: with or
without EPUB front matter (the project row keeps the choice)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.documents import DocumentActivities
from activities.resources import Resources
from voxflow.artifacts import open_store
from voxflow.contracts import ProjectInput
from voxflow.conversion import create_project
from voxflow.db import make_engine, migrate
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
