"""AppTest of Compare: three columns, metrics and marks, rating, blind vote, diff, permalink."""

from __future__ import annotations

from sqlmodel import select

from lib import db, prompts
from lib.client.model_client import reset_clients
from lib.models import ArenaVote, Comparison, Run
from tests.actors import ADMIN
from tests.app.conftest import new_app, texts

PAGE = "pages/compare.py"


def _setup(engine):
    with db.session_scope(engine) as s:
        prompts.create_prompt(actor=ADMIN, session=s, name="greet", messages=[{"role": "user",
                              "content": "Hi {{who}}"}],
                              model="echo/echo")
        prompts.save_version(actor=ADMIN, session=s, name="greet", messages=[{"role": "user",
                             "content": "Hello {{who}}!"}],
                             model="echo/echo")


def _open(query=None):
    reset_clients()
    at = new_app(PAGE, query)
    assert not at.exception, [e.value for e in at.exception]
    return at


def _run_three(at, blind=False):
    at.selectbox(key="cmp_ref_1").set_value("greet:1")
    at.checkbox(key="cmp_2_on_max_tokens").check().run()  # sampling fields are sent only when switched on
    at.number_input(key="cmp_2_max_tokens").set_value(2)
    at.text_area(key="cmp_var_who").input("Ada")
    if blind:
        at.toggle(key="cmp_blind").set_value(True)
    at.run()
    at.button(key="cmp_run").click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_compare_three_columns_rate_and_diff(engine_for_app):
    _setup(engine_for_app)
    at = _open()
    assert at.number_input(key="cmp_n").value == 3
    assert any("Missing values: who" in w.value for w in at.warning)
    _run_three(at)
    # #15 item 9: after Run the set-up is collapsed and the window scrolls to the answers (a fixed script)
    assert at.session_state["cmp_setup"] is False
    frames = [f.proto.srcdoc for f in at.get("iframe")]
    assert len(frames) == 1 and ".st-key-cmp_results" in frames[0] and "Ada" not in frames[0], frames
    with db.session_scope(engine_for_app) as s:
        [cmp] = list(s.exec(select(Comparison)))
        runs = list(s.exec(select(Run).order_by(Run.id)))
    assert len(runs) == 3 and {r.compare_id for r in runs} == {cmp.id} and all(cmp.run_ids)
    assert at.query_params["compare"] in ([cmp.id], cmp.id)
    codes = [c.value for c in at.code]
    assert "[user] Hello Ada!" in codes and "[user] Hi Ada" in codes
    page = texts(at)
    assert "greet:2 · echo/echo" in page and "greet:1 · echo/echo" in page
    assert "finish: length" in page  # column 3 was capped at 2 tokens
    # diff of column 1 and 2: word diff with markers
    assert any("[-Hello-]{+Hi+}" in c or "{+Hi+}" in c for c in codes), codes
    # rate column 1 with a note
    rid = cmp.run_ids[0]
    at.text_input(key=f"cmp_note_{rid}").input("friendly")
    at.button(key=f"cmp_up_{rid}").click().run()
    with db.session_scope(engine_for_app) as s:
        r = s.get(Run, rid)
        assert (r.rating, r.note) == (1, "friendly")
    # the permalink reopens the same comparison with its answers
    at2 = _open({"compare": cmp.id})
    assert "[user] Hello Ada!" in [c.value for c in at2.code]
    assert f"?compare={cmp.id}" in texts(at2)
    # #15 item 15: the permalink is a copyable address (st.code has a copy button) and an Open link
    assert any(c.value.endswith(f"?compare={cmp.id}") for c in at2.code), [(c.value, c.language) for c in at2.code]
    links = at2.get("link_button")
    assert links and links[0].proto.url.endswith(f"?compare={cmp.id}"), links
    at3 = _open({"compare": "nope"})
    assert any("unknown comparison" in e.value for e in at3.error)


def test_blind_mode_hides_names_until_the_vote(engine_for_app):
    _setup(engine_for_app)
    at = _open()
    _run_three(at, blind=True)
    page = texts(at)
    assert "greet:1 · echo/echo" not in page and "greet:2 · echo/echo" not in page  # names hidden
    assert "Which answer is best?" in page
    with db.session_scope(engine_for_app) as s:
        [cmp] = list(s.exec(select(Comparison)))
    assert cmp.blind and sorted(cmp.order) == [0, 1, 2] and cmp.order != [0, 1, 2]
    labels = [m.value for m in at.markdown if m.value.startswith("**Answer")]
    assert labels == ["**Answer A**", "**Answer B**", "**Answer C**"]
    # nothing that tells the columns apart before the vote: no cost, tokens, latency, badge, run # or name
    for leak in ("**Cost**", "**Tokens**", "**Latency**", "fastest", "cheapest", "run #", "greet", "echo/echo"):
        assert not any(leak in t for t in [m.value for m in at.markdown] + [c.value for c in at.caption]), leak
    assert not [b for b in at.button if b.key and b.key.startswith(("cmp_up_", "cmp_down_"))]
    assert at.radio(key=f"cmp_vote_{cmp.id}").value is None  # the vote starts unselected
    at.button(key="cmp_vote_btn").click().run()  # voting with nothing picked is refused, not a tie
    with db.session_scope(engine_for_app) as s:
        assert not list(s.exec(select(ArenaVote)))
    at.radio(key=f"cmp_vote_{cmp.id}").set_value("Answer B")
    at.button(key="cmp_vote_btn").click().run()
    with db.session_scope(engine_for_app) as s:
        votes = list(s.exec(select(ArenaVote)))
    winner = cmp.run_ids[cmp.order[1]]
    assert len(votes) == 2 and {v.run_a_id for v in votes} == {winner} and all(v.winner == "a" for v in votes)
    revealed = [m.value for m in at.markdown if m.value.startswith("**Answer")]
    assert all("echo/echo" in x for x in revealed), revealed
    assert "Which answer is best?" not in texts(at)
    at.session_state["cmp_arena_open"] = True  # the person opened the arena box
    at.toggle(key="cmp_show_board").set_value(True).run()
    # #15 item 7: switching the leaderboard on keeps the box open (a keyed expander)
    assert next(x for x in at.expander if x.label.startswith("Arena leaderboard")).proto.expanded is True
    assert "No votes between different contenders yet." in texts(at)  # all three ran on echo/echo
    at.radio(key="cmp_rate_by").set_value("version").run()
    board = at.dataframe[0].value
    # greet v1 against v2: same-version pairs are dropped, so both players count the same votes
    # #15 item 15: one person's vote over three columns is one vote for each player, not one per pair
    assert len(board) == 2 and board["votes"].tolist() == [1, 1], board
    assert set(board["95% interval"]) == {"needs more votes"}, board  # never a zero-width interval from 1 vote


def test_setup_and_last_comparison_survive_switching_pages(engine_for_app):
    _setup(engine_for_app)
    at = _open()
    _run_three(at)
    at.switch_page("pages/home.py")
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.text_area(key="cmp_var_who").value == "Ada"
    assert at.selectbox(key="cmp_ref_1").value == "greet:1"
    assert "[user] Hello Ada!" in [c.value for c in at.code]


def test_a_column_that_cannot_run_says_why(engine_for_app):
    _setup(engine_for_app)
    with db.session_scope(engine_for_app) as s:
        prompts.create_prompt(actor=ADMIN, session=s, name="lost", model="nowhere/model",
                              messages=[{"role": "user", "content": "Hi {{who}}"}])
    at = _open()
    at.number_input(key="cmp_n").set_value(2).run()
    at.selectbox(key="cmp_prompt_0").set_value("greet").run()
    at.selectbox(key="cmp_prompt_1").set_value("lost").run()
    at.text_area(key="cmp_var_who").input("Ada").run()
    at.button(key="cmp_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "This column could not run" in errors[0] and "nowhere" in errors[0], errors
    assert "[user] Hello Ada!" in [c.value for c in at.code]  # the other column still answered


def test_a_tool_call_answer_shows_its_calls_in_a_column(engine_for_app):
    """#13: a column whose answer is a tool call shows the call, not '(empty answer)'."""
    _setup(engine_for_app)
    call = {"id": "call_3", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "Ada"}'}}
    with db.session_scope(engine_for_app) as s:
        v = prompts.resolve(session=s, ref="greet:1")
        runs = [Run(source="compare", compare_id="cmp-tools", version_id=v.id, prompt_id=v.prompt_id,
                    prompt_name="greet", version_number=1, endpoint="echo", model="echo", output=out, tool_calls=tc,
                    messages=[{"role": "user", "content": "Hi Ada"}]) for out, tc in (("", [call]), ("Hi!", None))]
        s.add_all(runs)
        s.flush()
        s.add(Comparison(id="cmp-tools", columns=[{"version_id": v.id, "model": "echo/echo", "params": {}}] * 2,
                         variables={"who": "Ada"}, run_ids=[r.id for r in runs]))
    at = _open({"compare": "cmp-tools"})
    page = texts(at)
    assert "Tool call: lookup (call_3)" in page and "(empty answer)" not in page
    assert any('"q": "Ada"' in c.value for c in at.code) and "Hi!" in [c.value for c in at.code]
