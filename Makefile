# Two commands matter: `make demo` and `make test`. Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the project calls at run time or in tests.
APT_PACKAGES := aapt apksigner zipalign android-framework-res erofs-utils e2fsprogs \
	fonts-droid-fallback bsdiff zstd xdelta3 unzip zip openssl binutils xz-utils patch \
	fonts-dejavu-core fonts-noto-color-emoji fakeroot signapk protobuf-compiler bzip2 brotli \
	chromium git cryptsetup-bin gettext android-sdk-libsparse-utils mkbootimg cpio
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
WORKSPACE := examples/workspace

.PHONY: setup apt venv demo test clean

setup: apt venv

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else echo "Debian packages: all present"; fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

demo: setup
	./examples/demo.sh

test: setup
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

clean:
	rm -rf $(VENV) $(WORKSPACE)/base $(WORKSPACE)/releases $(WORKSPACE)/keys build *.egg-info
