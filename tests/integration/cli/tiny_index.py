"""Writes a PEP 503 "simple" package index holding one pure-Python wheel, for
tests of `sluice build` that must not reach PyPI: serve DIR with
`python3 -m http.server --directory DIR` and pass --index-url
http://127.0.0.1:PORT/simple.
Usage: tiny_index.py DIR  (package sluicetinydep 1.0, whose module has
GREETING = 'hello from sluicetinydep')."""
import base64
import hashlib
import pathlib
import sys
import zipfile

NAME, VERSION = "sluicetinydep", "1.0"
FILES = {
    f"{NAME}/__init__.py": "GREETING = 'hello from sluicetinydep'\n",
    f"{NAME}-{VERSION}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n",
    f"{NAME}-{VERSION}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: sluice-tests\nRoot-Is-Purelib: true\n"
    "Tag: py3-none-any\n",
}


def record(files):
    lines = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        lines.append(f"{name},sha256={digest},{len(text.encode())}")
    lines.append(f"{NAME}-{VERSION}.dist-info/RECORD,,")
    return "\n".join(lines) + "\n"


def main(root):
    project = pathlib.Path(root) / "simple" / NAME
    project.mkdir(parents=True, exist_ok=True)
    wheel = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(project / wheel, "w") as z:
        for name, text in {**FILES, f"{NAME}-{VERSION}.dist-info/RECORD": record(FILES)}.items():
            z.writestr(name, text)
    (project / "index.html").write_text(f'<html><body><a href="{wheel}">{wheel}</a></body></html>\n')


if __name__ == "__main__":
    main(sys.argv[1])
