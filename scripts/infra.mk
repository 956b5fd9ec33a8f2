# Infra checks. Include from the Makefile (`include scripts/infra.mk`) after VENV/BIN/UV/PYTHON are set.
# Checkov and shellcheck live in their own virtualenv: checkov pins heavy dependencies that would fight
# ours. tests/infra/test_infra_checkov.py runs checkov from there, so create it before pytest.
TOOLS_VENV := .venv-tools
TOOLS_REQUIREMENTS := scripts/tools-requirements.txt

TOOLS_COMPILE := $(UV) pip compile scripts/tools-requirements.in --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --no-header --no-annotate -q

.PHONY: tools checkov bicepcheck tools-upgrade

$(TOOLS_VENV)/.installed: $(TOOLS_REQUIREMENTS) | $(BIN)/uv
	$(UV) venv -q --allow-existing --python $(PYTHON) $(TOOLS_VENV)
	$(UV) pip install --python $(TOOLS_VENV)/bin/python -q --require-hashes -r $(TOOLS_REQUIREMENTS)
	touch $@

tools: $(TOOLS_VENV)/.installed

# Non-zero exit on any failed check; skips need an inline `//checkov:skip=CKV_...: reason`.
checkov: tools
	$(TOOLS_VENV)/bin/checkov -d infra --framework bicep --skip-download --compact --quiet
	$(TOOLS_VENV)/bin/shellcheck --shell=sh --severity=style --external-sources scripts/*.sh

# The Bicep type check against Azure's published type definitions (../shared/bicep-types), standing in
# for the compiler, which cannot run here. tests/infra/test_infra_typecheck.py runs it in `make test`.
bicepcheck: setup
	$(BIN)/python -m scripts.bicepcheck

# Part of `make upgrade`: re-resolve the infra tools' lock (pins and hashes).
tools-upgrade: $(BIN)/uv
	@{ echo "# Generated from scripts/tools-requirements.in by \`make upgrade\`, with hashes (installed with --require-hashes)."; \
	  $(TOOLS_COMPILE) --upgrade; } > $(TOOLS_REQUIREMENTS).new && mv $(TOOLS_REQUIREMENTS).new $(TOOLS_REQUIREMENTS)
