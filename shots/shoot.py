"""Screenshot the lesson page's sections (manual check; not a test)."""
import sys, tempfile
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from playwright.sync_api import sync_playwright
from browser import CHROMIUM, FLAGS

page_path, prefix = Path(sys.argv[1]), sys.argv[2]
ids = sys.argv[3:] or ["sec-network"]
with sync_playwright() as pw, tempfile.TemporaryDirectory() as prof:
    b = pw.chromium.launch_persistent_context(prof, executable_path=str(CHROMIUM), args=FLAGS, headless=True)
    p = b.new_page(); errors = []
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.set_viewport_size({"width": 1280, "height": 900})
    p.goto(page_path.resolve().as_uri()); p.wait_for_load_state("load")
    for i in ids:
        out = f"{prefix}-{i}.png"
        p.locator("#" + i).screenshot(path=out)
        print(out)
    print("errors:", errors)
    b.close()
