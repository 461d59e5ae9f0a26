# mk/install.mk: `make install` and `make uninstall` for livestatus.
#
# Included at the end of the top Makefile, or used alone from the top of
# the tree after a build:
#
#   make -f mk/install.mk install DESTDIR=/tmp/stage PREFIX=/usr
#
# Installs the three programs and livestatus-check, the systemd units of deploy/ (with their
# /usr/local/bin paths rewritten to BINDIR), the nginx snippet, the env
# file examples (one host, central, gateway), the OpenClaw gateway hook folder and the man pages.
# `uninstall` removes exactly the files `install` writes (the list is
# computed the same way) and the folders that belong to livestatus alone;
# shared folders such as $(BINDIR) stay.  Nothing here touches /etc, the
# database or the service user: install.sh does that on a real host.

LS_PREV_GOAL := $(.DEFAULT_GOAL)

BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
PKGDATADIR ?= $(DATADIR)/livestatus
# systemd reads /usr/local/lib/systemd/system and /usr/lib/systemd/system.
UNITDIR ?= $(PREFIX)/lib/systemd/system
# systemd-tmpfiles reads /usr/local/lib/tmpfiles.d and /usr/lib/tmpfiles.d.
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
INSTALL ?= install

LS_PROGRAMS := livestatus-watcher livestatus-fcgi live-status
LS_UNITS := $(notdir $(wildcard deploy/*.service deploy/*.socket))
LS_TMPFILES := $(notdir $(wildcard deploy/tmpfiles.d/*.conf))
LS_NGINX := $(notdir $(wildcard nginx/livestatus*.conf))
LS_ENV := $(notdir $(wildcard deploy/*.env.example))
LS_SCRIPTS := $(notdir $(wildcard scripts/livestatus-check))
LS_HOOK := $(patsubst deploy/openclaw-hook/%,%,$(shell find deploy/openclaw-hook \
	-type f ! -name '*~' ! -name '.*' 2>/dev/null | LC_ALL=C sort))
LS_HOOKDIRS := $(patsubst deploy/openclaw-hook/%,%,$(shell find deploy/openclaw-hook \
	-mindepth 1 -type d 2>/dev/null | LC_ALL=C sort -r))
LS_MAN := $(notdir $(wildcard man/*.1 man/*.7 man/*.8))

# Where each file lands, for install and uninstall alike.
LS_DEST_FILES := $(addprefix $(BINDIR)/,$(LS_PROGRAMS) $(LS_SCRIPTS)) \
	$(addprefix $(UNITDIR)/,$(LS_UNITS)) \
	$(addprefix $(TMPFILESDIR)/,$(LS_TMPFILES)) \
	$(addprefix $(PKGDATADIR)/nginx/,$(LS_NGINX)) \
	$(addprefix $(PKGDATADIR)/,$(LS_ENV)) \
	$(addprefix $(PKGDATADIR)/openclaw-hook/,$(LS_HOOK)) \
	$(foreach m,$(LS_MAN),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(m))

.PHONY: install uninstall install-files

# From the top Makefile, install builds first; alone, the programs must exist.
ifneq ($(filter all,$(.DEFAULT_GOAL)),)
install: all
endif
install: install-files

install-files:
	@for p in $(LS_PROGRAMS); do \
		[ -x "$(BUILD)/$$p" ] || { echo "install: $(BUILD)/$$p is missing: run make first" >&2; exit 1; }; \
	done
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)"
	$(INSTALL) -m 0755 $(addprefix $(BUILD)/,$(LS_PROGRAMS)) "$(DESTDIR)$(BINDIR)/"
ifneq ($(LS_SCRIPTS),)
	$(INSTALL) -m 0755 $(addprefix scripts/,$(LS_SCRIPTS)) "$(DESTDIR)$(BINDIR)/"
endif
ifneq ($(LS_UNITS),)
	$(INSTALL) -d "$(DESTDIR)$(UNITDIR)"
	@for u in $(LS_UNITS); do \
		echo "sed 's|/usr/local/bin/|$(BINDIR)/|g' deploy/$$u > $(DESTDIR)$(UNITDIR)/$$u"; \
		sed 's|/usr/local/bin/|$(BINDIR)/|g' "deploy/$$u" > "$(DESTDIR)$(UNITDIR)/$$u" && \
		chmod 0644 "$(DESTDIR)$(UNITDIR)/$$u" || exit 1; \
	done
endif
ifneq ($(LS_TMPFILES),)
	$(INSTALL) -d "$(DESTDIR)$(TMPFILESDIR)"
	$(INSTALL) -m 0644 $(addprefix deploy/tmpfiles.d/,$(LS_TMPFILES)) "$(DESTDIR)$(TMPFILESDIR)/"
endif
ifneq ($(LS_NGINX),)
	$(INSTALL) -d "$(DESTDIR)$(PKGDATADIR)/nginx"
	$(INSTALL) -m 0644 $(addprefix nginx/,$(LS_NGINX)) "$(DESTDIR)$(PKGDATADIR)/nginx/"
endif
ifneq ($(LS_ENV),)
	$(INSTALL) -d "$(DESTDIR)$(PKGDATADIR)"
	$(INSTALL) -m 0644 $(addprefix deploy/,$(LS_ENV)) "$(DESTDIR)$(PKGDATADIR)/"
endif
ifneq ($(LS_HOOK),)
	@for f in $(LS_HOOK); do \
		echo "$(INSTALL) -D -m 0644 deploy/openclaw-hook/$$f $(DESTDIR)$(PKGDATADIR)/openclaw-hook/$$f"; \
		$(INSTALL) -D -m 0644 "deploy/openclaw-hook/$$f" \
			"$(DESTDIR)$(PKGDATADIR)/openclaw-hook/$$f" || exit 1; \
	done
endif
ifneq ($(LS_MAN),)
	@for m in $(LS_MAN); do \
		s=$${m##*.}; \
		echo "$(INSTALL) -D -m 0644 man/$$m $(DESTDIR)$(MANDIR)/man$$s/$$m"; \
		$(INSTALL) -D -m 0644 "man/$$m" "$(DESTDIR)$(MANDIR)/man$$s/$$m" || exit 1; \
	done
endif

uninstall:
	rm -f $(addprefix "$(DESTDIR),$(addsuffix ",$(LS_DEST_FILES)))
	@for d in $(addprefix $(PKGDATADIR)/openclaw-hook/,$(LS_HOOKDIRS)) \
		$(PKGDATADIR)/openclaw-hook $(PKGDATADIR)/nginx $(PKGDATADIR); do \
		if [ -d "$(DESTDIR)$$d" ]; then \
			echo "rmdir $(DESTDIR)$$d"; \
			rmdir "$(DESTDIR)$$d" 2>/dev/null || \
				echo "uninstall: kept $(DESTDIR)$$d: not empty" >&2; \
		fi; \
	done

# Lists the installed paths, one a line (for install.sh and the tests).
.PHONY: install-list
install-list:
	@for f in $(LS_DEST_FILES); do echo "$$f"; done

ifneq ($(LS_PREV_GOAL),)
.DEFAULT_GOAL := $(LS_PREV_GOAL)
endif
