#!/usr/bin/env bash
# Runs the whole test suite, first installing what the tests need on this machine.
# Under CI=true a missing peer is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# GRDB links the system SQLite.
[ -f /usr/include/sqlite3.h ] || need_apt+=(libsqlite3-dev)
# CAP 1.2 output is validated against the OASIS schema with xmllint.
command -v xmllint >/dev/null || need_apt+=(libxml2-utils)
# The kannel channel is tested against a real bearerbox + smsbox + fakesmsc.
[ -x /usr/sbin/bearerbox ] || need_apt+=(kannel)
[ -x /usr/lib/kannel/test/fakesmsc ] || need_apt+=(kannel-extras)
# The smtp channel is also tested against Postfix (loopback only; the test configures it).
if ! [ -x /usr/sbin/postfix ]; then
  need_apt+=(postfix)
  echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
  echo "postfix postfix/mailname string habar-test.localdomain" | debconf-set-selections
fi
command -v openssl >/dev/null || need_apt+=(openssl)
# The console's event stream is read with curl in a test.
command -v curl >/dev/null || need_apt+=(curl)
# The operator console is tested in a real headless Chromium, driven by Selenium.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
# The PostgreSQL store is tested against a real server the tests start (initdb, pg_ctl; as the
# postgres user when run as root).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "run-all: installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# Signatures are checked against the Standard Webhooks reference library.
python3 -c "import standardwebhooks" 2>/dev/null || python3 -m pip install -q standardwebhooks
# The smtp channel is tested against aiosmtpd too.
python3 -c "import aiosmtpd" 2>/dev/null || python3 -m pip install -q aiosmtpd
# Selenium drives the console's browser tests (with the driver above; SE_OFFLINE: never download one).
python3 -c "import selenium" 2>/dev/null || python3 -m pip install -q selenium
export SE_OFFLINE=true

swift build --build-tests
# The catalogs are checked like code: every key, variant, plural form, SMS budget, HTML.
.build/debug/habar messages check messages
if [ $# -gt 0 ]; then
  exec swift test --skip-build "$@"
fi
# The cluster rate-limit test measures a rate against the clock: it runs alone after the rest,
# so the other suites' load on these cores does not set the pace it measures.
swift test --skip-build --skip SharedRateLimitTests
swift test --skip-build --filter SharedRateLimitTests
