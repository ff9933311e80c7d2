"""A real face photograph for the Swift tests: scikit-image's `astronaut.png` (Eileen
Collins, NASA, public domain), taken from the scikit-image wheel that pip downloads (the
package is never installed). No image is committed to git."""
import os
import subprocess
import sys
import zipfile

from .versions import pinned

SKIMAGE_VERSION = pinned("PY_SKIMAGE_WHEEL_VERSION")
MEMBER = "skimage/data/astronaut.png"


def write_astronaut(out_dir, cache_dir):
    os.makedirs(cache_dir, exist_ok=True)
    wheels = [f for f in os.listdir(cache_dir) if f.startswith(f"scikit_image-{SKIMAGE_VERSION}") and f.endswith(".whl")]
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        f"scikit-image=={SKIMAGE_VERSION}", "-d", cache_dir], check=True)
        wheels = [f for f in os.listdir(cache_dir) if f.startswith(f"scikit_image-{SKIMAGE_VERSION}") and f.endswith(".whl")]
    with zipfile.ZipFile(os.path.join(cache_dir, wheels[0])) as archive:
        data = archive.read(MEMBER)
    os.makedirs(out_dir, exist_ok=True)
    target = os.path.join(out_dir, "astronaut.png")
    with open(target + ".partial", "wb") as handle:
        handle.write(data)
    os.replace(target + ".partial", target)
    print(f"modelkit: wrote {target}")
