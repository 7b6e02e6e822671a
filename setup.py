"""What pyproject.toml cannot say: the SFU's C sender, built by cffi (sfu/native/build.py).

The extension is optional: where no C compiler exists the install goes on, and the SFU
sends from Python (`python -m sfu.native` says which)."""

from setuptools import setup

setup(cffi_modules=["sfu/native/build.py:make_ffi"])
