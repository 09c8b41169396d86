"""An answer HH documents as one of several shapes is parsed as the shape its keys fit."""

from __future__ import annotations

import httpx
import pytest
import respx

from hh_async import HHClient, StaticToken
from hh_async.models import MeAnyProfile, MeApplicantProfile, MeEmployerProfile, MeManagerProfile
from hh_async.shapes import fitting

FLAGS = {
    "auth_type": "employer",
    "is_admin": False,
    "is_applicant": False,
    "is_application": False,
    "is_employer": True,
    "is_employer_integration": False,
}
SHAPES = (MeAnyProfile, MeApplicantProfile, MeManagerProfile, MeEmployerProfile)


def test_each_kind_of_profile_is_read_as_its_own_shape() -> None:
    person = {"id": "7", "first_name": "Ann", "last_name": "Lee", "email": "a@b.c", "middle_name": None}
    manager = {**FLAGS, **person, "employer": {"id": "1"}, "manager": {"id": "9"}}
    applicant = {
        **FLAGS,
        **person,
        "auth_type": "applicant",
        "is_applicant": True,
        "is_employer": False,
        "counters": {"resumes_count": 1},
        "is_in_search": True,
        "linked_socials": [],
        "negotiations_url": "https://api.hh.ru/negotiations",
        "resumes_url": "https://api.hh.ru/resumes/mine",
    }
    application = {**FLAGS, "auth_type": "application", "is_application": True, "is_employer": False}
    assert fitting(SHAPES, manager) is MeManagerProfile
    assert fitting(SHAPES, applicant) is MeApplicantProfile
    assert fitting(SHAPES, application) is MeAnyProfile  # fits Any and Employer alike: the first documented
    assert fitting(SHAPES, {**FLAGS, "employer": {"id": "1"}}) is MeEmployerProfile


@pytest.mark.anyio
async def test_an_employers_me_has_its_employer_and_manager(anyio_backend: str) -> None:
    person = {"id": "7", "first_name": "Ann", "last_name": "Lee"}
    body = {**FLAGS, **person, "employer": {"id": "1", "name": "Co"}, "manager": {"id": "9"}}
    with respx.mock(base_url="https://api.hh.ru") as mock:
        mock.get("/me").mock(return_value=httpx.Response(200, json=body))
        async with HHClient(
            user_agent="Tests/1.0 (dev@example.com)",
            auth=StaticToken("t"),
            transport=httpx.AsyncHTTPTransport(),  # what respx intercepts
        ) as hh:
            me = await hh.get_current_user_info()
    assert isinstance(me, MeManagerProfile)
    assert me.employer.id == "1" and me.manager.id == "9"  # not lost in additional_properties
    assert me.to_dict() == body


@pytest.mark.anyio
async def test_me_on_the_fake_is_the_profile_of_the_tokens_kind(anyio_backend: str) -> None:
    """The issue's acceptance: an employer's token gives the employer (manager) profile, an applicant's the
    applicant one, an application's the bare one."""
    from hh_async import AppToken
    from hh_async.testing import CLIENT_ID, CLIENT_SECRET, FakeHH

    async with FakeHH(vacancies=10) as server:
        employer = server.oauth.issue_user_token(CLIENT_ID, "e1", role="employer")["access_token"]
        applicant = server.oauth.issue_user_token(CLIENT_ID, "a1", role="applicant")["access_token"]
        async with HHClient(user_agent="Tests/1.0 (dev@example.com)", base_url=server.url) as hh:
            as_employer = await hh.with_options(auth=StaticToken(employer)).get_current_user_info()
            as_applicant = await hh.with_options(auth=StaticToken(applicant)).get_current_user_info()
            as_app = await hh.with_options(auth=AppToken(CLIENT_ID, CLIENT_SECRET)).get_current_user_info()
    assert isinstance(as_employer, MeManagerProfile) and as_employer.id == "e1"
    assert as_employer.employer is not None and as_employer.is_employer
    assert isinstance(as_applicant, MeApplicantProfile) and as_applicant.id == "a1"
    assert isinstance(as_app, MeAnyProfile) and as_app.is_application
