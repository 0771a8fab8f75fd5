"""Saved conversations, feedback and URL ingest over the API of a launched app with two users
(gradio_client logged in as each; fake embedder: fast)."""
import pytest

from conftest import SEED
from test_app import LAVROV, client_for, serve_pipeline  # noqa: F401  (a fixture)

WANG = "What did Wang Yi say about THAAD?"


@pytest.fixture
def two_users(fake_pipeline, serve_pipeline):
    fake_pipeline.settings = fake_pipeline.settings.with_(auth="alice:pw-a,bob:pw-b")
    fake_pipeline.ingest([SEED])
    url = serve_pipeline(fake_pipeline)
    return (client_for(url, auth=("alice", "pw-a")), client_for(url, auth=("bob", "pw-b")),
            fake_pipeline, url)


def test_two_users_cannot_read_resume_export_delete_or_rate_each_others(two_users):
    alice, bob, pipeline, url = two_users
    alice.predict(LAVROV, [], [], "", "", "", api_name="/chat")
    history, _, _ = alice.predict(WANG, [], [], "", "", "", api_name="/chat")
    [conv] = alice.predict(api_name="/conversations")
    assert conv["title"] == LAVROV and conv["turns"] == 2, "one session: one conversation"
    cid = conv["id"]
    saved = alice.predict(cid, api_name="/conversation")
    first = saved["turns"][0]
    assert first["question"] == LAVROV and "pretext" in first["answer"]
    cite = first["citations"][0]
    assert cite["status"] == "current" and cite["content_hash"]
    assert pipeline.article_text(cite["article_id"])[cite["start"]:cite["end"]] == cite["quote"]
    assert first["settings"]["top_k"] == pipeline.settings.top_k
    assert alice.predict(cid, 1, 1, "exactly the quote I needed",
                         api_name="/feedback")["feedback_id"] == 1

    # bob: nothing listed, and alice's id answers exactly as an unknown one does
    missing = {"error": "no conversation 'nope'"}
    assert bob.predict(api_name="/conversations") == []
    assert bob.predict(api_name="/my_feedback") == []
    for api, args in (("/conversation", ()), ("/export_conversation", ()),
                      ("/rename_conversation", ("mine now",)), ("/delete_conversation", ())):
        got = bob.predict(cid, *args, api_name=api)
        assert got == {"error": f"no conversation {cid!r}"}
        assert bob.predict("nope", *args, api_name=api) == missing
    assert "error" in bob.predict(cid, 1, -1, "spam", api_name="/feedback")
    bob.predict("Where were the Musudan missiles launched from?", [], [], "", "", "",
                api_name="/chat")
    [bobs] = bob.predict(api_name="/conversations")
    assert alice.predict(bobs["id"], api_name="/conversation") == {
        "error": f"no conversation {bobs['id']!r}"}

    # alice's own data is intact and fully hers
    [rated] = alice.predict(api_name="/my_feedback")
    assert (rated["rating"], rated["note"], rated["question"]) == (
        1, "exactly the quote I needed", LAVROV)
    assert rated["citations"][0]["quote"] == cite["quote"] and rated["settings"]["top_k"]
    md = alice.predict(cid, api_name="/export_conversation")["markdown"]
    assert f"## Q1: {LAVROV}" in md and f"## Q2: {WANG}" in md and cite["title"] in md
    assert alice.predict(cid, "THAAD talks", api_name="/rename_conversation") == {"renamed": cid}
    assert alice.predict(api_name="/conversations")[0]["title"] == "THAAD talks"
    assert alice.predict(cid, api_name="/delete_conversation") == {"deleted": cid}
    assert alice.predict(api_name="/conversations") == []
    assert len(bob.predict(api_name="/conversations")) == 1


def test_add_url_from_the_ui_refuses_loopback_by_default(fake_pipeline, serve_pipeline):
    from feed_site import Site
    site = Site(entries=20)
    try:
        client = client_for(serve_pipeline(fake_pipeline))
        result = client.predict(site.url("/feed.xml"), "", api_name="/add_url")[0]
        assert "refused, 127.0.0.1 is a loopback address" in result
        assert site.requests == [] and fake_pipeline.store.article_count() == 0
        assert "Not a web address: file:///etc/passwd" in client.predict(
            "file:///etc/passwd", "", api_name="/add_url")[0]
        fake_pipeline.settings = fake_pipeline.settings.with_(allow_private_urls=True)
        result = client.predict(site.url("/feed.xml"), "", api_name="/add_url")[0]
        assert result.startswith("Added 20, updated 0, unchanged 0.")
        assert "✓ Tarnwick council approves a new ferry pier" in result
    finally:
        site.close()
