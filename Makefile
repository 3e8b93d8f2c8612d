# pps-archive: two commands do all the set-up on a fresh Debian machine.
#   make demo   install what is missing, then run the main job end to end on SQLite
#   make test   install what is missing, then run the whole test suite
# Debian packages are installed with apt (through sudo when not root); Python packages go into a
# virtualenv in .venv. Nothing else needs installing by hand.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

# tesseract-ocr(+osd): OCR and page orientation; ghostscript, qpdf, unpaper, pngquant: ocrmypdf's
# helpers; libzbar0: pyzbar; poppler-utils: pdftotext; xorriso, genisoimage, p7zip-full: building
# and independently reading disc images; age: the standard tool that decrypts an archived item;
# dvdisaster: optional error-correction data; fonts-dejavu-core: the test scans' fonts; time: GNU
# time, for the benchmarks' peak-memory figures; samba, smbclient: the scanner share and its test;
# postgresql-client: pg_dump/pg_restore for 'backup' on PostgreSQL; systemd: systemd-analyze, which
# checks the service units.
DEB_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd ghostscript qpdf unpaper pngquant \
	libzbar0 libtiff-tools poppler-utils xorriso genisoimage p7zip-full age dvdisaster fonts-dejavu-core \
	python3-venv time samba smbclient postgresql-client systemd
# chromium: the real browser the web app's tests drive (through Playwright, pointed at /usr/bin/chromium)
DEB_PACKAGES += chromium

.PHONY: help deps venv test demo clean

help:
	@echo "make demo   set up and run the pipeline end to end on sample scans (SQLite)"
	@echo "make test   set up and run the whole test suite"

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml | deps
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "pps-archive needs Python 3.11 or newer ($(PYTHON) is older)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	@touch $@

venv: deps $(VENV)/.installed

test: venv
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

demo: venv
	./scripts/demo.sh

clean:
	rm -rf $(VENV) demo-output .pytest_cache
