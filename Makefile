# Keypool — the two commands a new machine needs: `make run` and `make test`.
# Both install what is missing first (Debian packages only when absent, via
# sudo when not root; Go modules through the module proxy).

SHELL := /bin/bash
GO ?= go
BIN := build/keypool
HEADLESS_BIN := build/keypool-headless
# The headless binary's archive, for servers (make package).
HEADLESS_TAR = build/keypool-headless-$(shell $(GO) env GOOS)-$(shell $(GO) env GOARCH).tar.xz
# The version: the nearest vX.Y.Z tag as git describe gives it (app/version
# turns it into a semantic version), the commit and the build date.
DESCRIBE ?= $(shell git describe --tags --long --dirty --match 'v[0-9]*.[0-9]*.[0-9]*' 2>/dev/null)
COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X keypool/app/version.describe=$(DESCRIBE) -X keypool/app/version.commit=$(COMMIT) \
	-X keypool/app/version.buildDate=$(BUILD_DATE)
# Debian packages the build and tests need beyond Go, gcc and git.
DEB_PKGS := ca-certificates
# The keychain tests (scripts/with-keyring.sh): dbus-run-session comes with
# dbus-daemon on Debian 12, dbus-send with dbus-bin; secret-tool
# (libsecret-tools) shows what a test stored.
DEB_PKGS += dbus-daemon dbus-bin gnome-keyring libsecret-tools
# dbus-launch (dbus-x11): a test checks that a failed keychain call on a
# machine without a session bus never starts one through it.
DEB_PKGS += dbus-x11
# Start-at-login entries are checked with desktop-file-validate, and the
# service unit with systemd-analyze (a container's Debian 12 lacks it).
DEB_PKGS += desktop-file-utils systemd
# The package test reads the .rpm that make package writes with rpm -qlp.
DEB_PKGS += rpm
# The desktop app (Fyne: OpenGL and X11 headers, through cgo).
DEB_PKGS += pkg-config libgl-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev
# A test waits on a real X connection (ui: parking Fyne's loop): Xvfb.
DEB_PKGS += xvfb
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# A count, not a duration: a duration can end mid-input and fail the run.
FUZZTIME ?= 50000x
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all deps build build-headless run test fuzz fuzz-short bench vet screenshots prices package package-headless package-linux package-deb package-rpm nfpm-config package-manifests package-headless-all deps-windows package-windows test-windows release-manifest clean

all: build

# $(call install-debs,PACKAGES) installs the Debian packages that are
# missing, through sudo when not root.
define install-debs
	@if command -v dpkg >/dev/null; then \
	  missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  fi; \
	else echo "not a Debian system: make sure these are installed: $(1)"; fi
endef

deps:
	@command -v $(GO) >/dev/null || { echo "Go 1.26 or newer is needed: https://go.dev/dl/"; exit 1; }
	$(call install-debs,$(DEB_PKGS))
	@$(GO) mod download

# On Linux the desktop binary is linked by Go's own linker rather than the
# system's, which cgo picks when a package links C libraries. Same code, same
# CPU, but the system-linked binary added 0.2 - 0.4 ms more to a request that
# came after a pause (make bench, one stream at a time). Where Go's linker
# cannot link it, the system's does.
DESKTOP_LINK := $(if $(filter linux,$(shell $(GO) env GOOS)),-linkmode=internal)

build: deps
	$(GO) build -trimpath -ldflags '$(LDFLAGS) $(DESKTOP_LINK)' -o $(BIN) . || { \
	  echo "linking the desktop binary with the system's linker instead"; \
	  $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .; }

# The relay alone, for servers and containers: built without cgo, a static
# binary that links no library and has every command but the window
# (keypool with no command runs the relay). It needs Go only.
build-headless:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(HEADLESS_BIN) .

# The desktop app (window and tray); without a display it runs headless.
# make run ARGS="serve --config config.toml" runs the relay alone.
run: build
	./$(BIN) $(ARGS)

# Each view rendered with real data through Fyne's test driver.
screenshots: deps
	KEYPOOL_SCREENSHOTS=$(CURDIR)/build/screenshots $(WITH_KEYRING) $(GO) test -count=1 -run TestScreenshots ./ui/
	@ls build/screenshots

# Everything that builds without cgo is vetted for macOS and Windows too,
# tests included; the GUI (cgo on macOS) for Windows.
vet: deps
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	# staticcheck (a Go tool dependency: go.mod's tool line, at its pinned version).
	$(GO) tool staticcheck ./...
	cd internal/envfix && $(GO) vet ./...
	GOOS=darwin $(GO) vet ./app/... ./relay/... ./internal/...
	GOOS=windows $(GO) vet ./app/... ./relay/... ./internal/...
	# The desktop app's Windows build (no D-Bus tray there) type-checks without cgo.
	GOOS=windows $(GO) vet ./ui/

# The relay runs under the race detector; everything else plainly, inside a
# private D-Bus session with a throwaway, unlocked gnome-keyring, where a
# keychain test that finds no Secret Service fails instead of skipping. Then
# the tests' full output (kept in build/test-output.log) and every file they
# left are scanned for the fake secrets they use, and a short fuzz of every
# fuzz target runs.
WITH_KEYRING := GO=$(GO) ./scripts/with-keyring.sh
test: vet
	$(WITH_KEYRING) ./scripts/test-suite.sh build/test-output.log
	$(MAKE) --no-print-directory fuzz-short

FUZZ_TARGETS := ./relay/sse:FuzzCopy ./relay/session:FuzzFromUserID ./relay/anthropic:FuzzResponseUsage \
	./relay/convert:FuzzChatToMessages ./relay/convert:FuzzStream ./app/config:FuzzParse ./app/store/journal:FuzzJournalLine

fuzz-short:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; done

fuzz:
	$(MAKE) --no-print-directory fuzz-short FUZZTIME=2m

# The comparison also starts the headless build beside the desktop one.
# Last, the desktop app at rest under Xvfb: CPU, RSS and D-Bus signals with
# an idle pool, hidden, shown and closed (IDLE_SECONDS=60 per phase).
bench: build build-headless
	$(GO) test -run '^$$' -bench . -benchmem ./relay/... ./app/store/ ./app/
	$(GO) run ./bench -keypool $(BIN) -headless $(HEADLESS_BIN)
	./scripts/idle-desktop.sh $(BIN)

# Refresh the bundled price table from the npm package @pydantic/genai-prices
# (MIT): its Anthropic, OpenAI and Google prices, with the source and date.
prices:
	@command -v node >/dev/null || { echo "make prices needs node and npm"; exit 1; }
	@t=$$(mktemp -d) && cd $$t && npm pack --silent @pydantic/genai-prices@latest >/dev/null && tar xzf *.tgz && \
	  node $(CURDIR)/app/prices/dump.cjs $$t/package/dist/index.cjs $$t/package/package.json > $(CURDIR)/app/prices/prices.json && \
	  cp package/LICENSE $(CURDIR)/app/prices/LICENSE.genai-prices && rm -rf $$t
	@head -c 200 app/prices/prices.json; echo

# The platform bundle (Linux: a .tar.xz with the binary, icon and .desktop
# file; macOS: Keypool.app, and zipped for the cask; Windows: keypool.exe
# with its icon), built by the fyne CLI from FyneApp.toml. The CLI runs at a
# pinned version outside go.mod, so packaging never changes the app's own
# Fyne version. Beside it, the headless archive for servers; on Linux the
# .deb and .rpm; last, the package managers' manifests for the archives
# there are (docs/development.md, Releases).
FYNE_CLI := fyne.io/tools/cmd/fyne@v1.7.4
HOST_OS := $(shell $(GO) env GOOS)
PKG_ARCH = $(shell $(GO) env GOARCH)
package: deps package-headless $(if $(filter linux,$(HOST_OS)),package-linux)
	$(GO) run $(FYNE_CLI) package --release --tags migrated_fynedo --name keypool
	@mkdir -p build && for f in keypool.tar.xz Keypool.app keypool.exe; do [ -e "$$f" ] && rm -rf "build/$$f" && mv "$$f" build/; done; ls -la build/
	@if [ -d build/Keypool.app ] && command -v ditto >/dev/null; then \
	  rm -f build/keypool-darwin-$(PKG_ARCH).zip && \
	  ditto -c -k --keepParent build/Keypool.app build/keypool-darwin-$(PKG_ARCH).zip && echo "wrote build/keypool-darwin-$(PKG_ARCH).zip"; fi
	@$(MAKE) --no-print-directory package-manifests

# The headless binary, named keypool, with config.example.toml, in an
# archive of their own: build/keypool-headless-OS-ARCH.tar.xz.
package-headless: build-headless
	@mkdir -p $(dir $(HEADLESS_TAR)) && d=$$(mktemp -d) && \
	  cp $(HEADLESS_BIN) $$d/keypool && cp config.example.toml $$d/ && \
	  tar -C $$d -cJf $(HEADLESS_TAR) keypool config.example.toml; s=$$?; rm -rf $$d; exit $$s
	@echo "wrote $(HEADLESS_TAR)"

# The headless archive for each OS and architecture a release ships, cross-
# compiled (no cgo), for the Homebrew formula: RELEASE_TARGETS.
RELEASE_TARGETS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
package-headless-all:
	@for t in $(RELEASE_TARGETS); do \
	  GOOS=$${t%/*} GOARCH=$${t#*/} $(MAKE) --no-print-directory package-headless HEADLESS_BIN=build/keypool-headless-$${t%/*}-$${t#*/} || exit 1; done

# Linux packages, .deb and .rpm, built by nfpm (a Go tool dependency:
# go.mod's tool line, at its pinned version): both binaries, the icon, the
# .desktop entry, the systemd units, the README. They carry the binaries'
# version: internal/packaging reads DESCRIBE and COMMIT as app/version does.
# packaging/ holds the templates and files; NFPM_CONFIG is nfpm's
# configuration, rendered, with the .desktop entry beside it.
PKGTOOL = $(GO) run ./internal/packaging
DEB = build/keypool-linux-$(PKG_ARCH).deb
RPM = build/keypool-linux-$(PKG_ARCH).rpm
NFPM_CONFIG = build/nfpm/nfpm.yaml
PKG_MAINTAINER ?= Keypool <maintainers@keypool.invalid>
PKG_HOMEPAGE ?= https://github.com/keypool/keypool
# An SPDX id; the repository has no licence file yet, so none is named.
PKG_LICENSE ?=
PKG_META = -describe '$(DESCRIBE)' -commit '$(COMMIT)' -maintainer '$(PKG_MAINTAINER)' \
	-homepage '$(PKG_HOMEPAGE)' -license '$(PKG_LICENSE)'
package-linux: package-deb package-rpm

nfpm-config: build build-headless
	$(PKGTOOL) nfpm $(PKG_META) -arch $(PKG_ARCH) -bin $(BIN) -headless $(HEADLESS_BIN) -o $(NFPM_CONFIG)

package-deb: nfpm-config
	@mkdir -p $(dir $(DEB))
	$(GO) tool nfpm package -f $(NFPM_CONFIG) -p deb -t $(DEB)

package-rpm: nfpm-config
	@mkdir -p $(dir $(RPM))
	$(GO) tool nfpm package -f $(NFPM_CONFIG) -p rpm -t $(RPM)

# The package managers' manifests, each with the version and the SHA-256 of
# its archives, from packaging/'s templates into MANIFESTS_DIR: the Homebrew
# formula (the headless archives), the cask (the macOS zips), the Scoop and
# winget manifests (the Windows zips). An archive that is not there is
# named and left out; a manifest with none is not written.
RELEASE_URL ?= https://github.com/keypool/keypool/releases/download/v{{.Version}}/
MANIFESTS_DIR ?= build/manifests
RELEASE_ARCHS ?= amd64 arm64
HEADLESS_ARCHIVES ?= $(foreach os,linux darwin,$(foreach a,$(RELEASE_ARCHS),build/keypool-headless-$(os)-$(a).tar.xz))
MAC_ARCHIVES ?= $(foreach a,$(RELEASE_ARCHS),build/keypool-darwin-$(a).zip)
WINDOWS_ARCHIVES ?= $(foreach a,$(RELEASE_ARCHS),build/keypool-windows-$(a).zip)
package-manifests:
	$(PKGTOOL) manifests $(PKG_META) -release-url '$(RELEASE_URL)' -o $(MANIFESTS_DIR) \
	  -headless '$(HEADLESS_ARCHIVES)' -mac '$(MAC_ARCHIVES)' -windows '$(WINDOWS_ARCHIVES)'

# Windows, from Linux: the desktop app cross-compiled with mingw-w64 (cgo,
# for Fyne) and the headless build, zipped for Scoop and winget
# (build/keypool-windows-amd64.zip). make test-windows runs the Windows test
# binaries under Wine (Debian's wine64), under two minutes
# (internal/wintest says what it works around, and counts).
WIN_DEB_PKGS := wine64 gcc-mingw-w64-x86-64 zip
WIN_DIR := build/windows
deps-windows: deps
	$(call install-debs,$(WIN_DEB_PKGS))

package-windows: deps-windows
	@mkdir -p $(WIN_DIR)
	CGO_ENABLED=1 CC=x86_64-w64-mingw32-gcc GOOS=windows GOARCH=amd64 $(GO) build -trimpath \
	  -ldflags '$(LDFLAGS) -H windowsgui' -o $(WIN_DIR)/keypool.exe .
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(WIN_DIR)/keypool-headless.exe .
	cp config.example.toml $(WIN_DIR)/
	rm -f build/keypool-windows-amd64.zip && cd $(WIN_DIR) && zip -q ../keypool-windows-amd64.zip keypool.exe keypool-headless.exe config.example.toml
	@echo "wrote build/keypool-windows-amd64.zip"

test-windows: deps-windows
	$(GO) run ./internal/wintest

# The signed release manifest for a build (what keypool update reads): every
# archive in build/ for its OS and architecture, signed with the release
# key, which stays outside the repository (RELEASE_KEY).
RELEASE_KEY ?= $(HOME)/.config/keypool-release/release.key
RELEASE_VERSION = $(shell $(PKGTOOL) version -describe '$(DESCRIBE)' -commit '$(COMMIT)')
RELEASE_NOTES ?= https://github.com/keypool/keypool/releases/tag/v$(RELEASE_VERSION)
release-manifest:
	$(GO) run ./internal/releasemanifest -key '$(RELEASE_KEY)' -version '$(RELEASE_VERSION)' \
	  -base '$(subst {{.Version}},$(RELEASE_VERSION),$(RELEASE_URL))' -notes '$(RELEASE_NOTES)' -o build/latest.json \
	  $$(for f in build/keypool-headless-*-*.tar.xz build/keypool-windows-*.zip build/keypool-darwin-*.zip; do \
	    [ -e "$$f" ] || continue; b=$$(basename "$$f"); s=$${b#keypool-}; s=$${s#headless-}; s=$${s%%.*}; \
	    echo "$${s%-*}/$${s##*-}=$$f"; done)

clean:
	rm -rf build
