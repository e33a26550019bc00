#!/usr/bin/env bash
# `make run`: starts `video2mp3 all` on the embedded defaults (SQLite, files
# under ./data, mail written to ./data/mail). On the first start it creates an
# admin and prints its password once. Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-build/video2mp3}
export V2M_DATA_DIR=${V2M_DATA_DIR:-./data}
export V2M_LISTEN=${V2M_LISTEN:-127.0.0.1:8080}
export V2M_LOG_FORMAT=${V2M_LOG_FORMAT:-text}
URL="http://${V2M_LISTEN}"
ADMIN=${V2M_ADMIN_EMAIL:-admin@example.com}

mkdir -p "$V2M_DATA_DIR"
if [ "$("$BIN" user list --json | jq length)" = 0 ]; then
    PASSWORD=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
    printf '%s\n' "$PASSWORD" | "$BIN" user add "$ADMIN" --admin --password-stdin >/dev/null
    CREATED="  First start: created the admin $ADMIN with the password
      $PASSWORD
  (shown once; change it with: $BIN user passwd $ADMIN)"
fi

cat <<TEXT

  video2mp3 is starting on $URL   (API description: $URL/openapi.yaml)
${CREATED:-}

  Sign in, convert, download (the original's three commands):
    TOKEN=\$(curl -s -X POST $URL/login -u '$ADMIN:PASSWORD')
    curl -X POST -F 'file=@./song.mp4' -H "Authorization: Bearer \$TOKEN" $URL/upload
    curl --output song.mp3 -H "Authorization: Bearer \$TOKEN" "$URL/download?fid=<mp3_fid>"
  Others can register:  curl -X POST $URL/v1/users -d '{"email":"you@example.com","password":"at least 10 chars"}'
  Emails land in $V2M_DATA_DIR/mail/.   Stop with Ctrl-C.

TEXT
exec "$BIN" all
