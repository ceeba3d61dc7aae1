#!/bin/sh
# A stand-in for a prompt program (ykman, zenity, kdialog, osascript,
# powershell.exe, pass, notify-send): it records how it was called in
# $FAKE_LOG/NAME and answers $FAKE_CODE with exit status $FAKE_EXIT.
# Only shell builtins: PATH holds nothing but the fakes.
name=${0##*/}
{
	for a in "$@"; do printf '%s\n' "$a"; done
	printf 'passphrase=%s\n' "${KEYWARDEN_FILE_PASSPHRASE:-unset}"
	printf 'serial=%s\n' "$KEYWARDEN_MFA_SERIAL"
} > "$FAKE_LOG/$name"
[ "$name" = notify-send ] && exit 0
printf '%s\n' "$FAKE_CODE"
printf 'prompt program talking on stderr\n' >&2
exit "${FAKE_EXIT:-0}"
