import sys; sys.path.insert(0,'.')
from tests.app.conftest import new_app, texts
def test_smoke(app_db):
    at = new_app()
    print(texts(at)[:2000])
    for p in ["pages/prompts.py","pages/settings.py"]:
        at.switch_page(p); at.run()
        print(p, [e.value for e in at.exception])
        print(texts(at)[:1500])
