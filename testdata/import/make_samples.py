#!/usr/bin/env python3
"""Writes the small import samples next to this script (deterministic: gzip mtime 0).

- justlog/: `<room id>/<year>/<month>/<day>/channel.txt.gz` as justlog writes it (raw IRC, one
  line each, LF), days 1, 2 and 10 of March 2024 (path order must put 10 last), and a per-user
  file `<room id>/2024/3/<user id>.txt` repeating one user's lines (skipped by the import).
- rustlog/: a channel's day as rustlog's API serves it with `?raw` (raw IRC, CRLF), with a JOIN
  without time (takes the previous line's) and a PING.
- prefixed.log: lines written by other bots, `<RFC 3339> <raw>` and `[<RFC 3339>] <raw>`.

tests/import.rs states the figures these files give.
"""
import gzip
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DAY1 = 1709251200  # 2024-03-01T00:00:00Z


def privmsg(channel, room, login, uid, ms, text, first=0):
    return (
        f"@badge-info=;badges=;color=#FF0000;display-name={login.capitalize()};emotes=;"
        f"first-msg={first};flags=;id=00000000-0000-0000-0000-{uid:012d};mod=0;"
        f"returning-chatter=0;room-id={room};subscriber=0;tmi-sent-ts={ms};turbo=0;"
        f"user-id={uid};user-type= :{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #{channel} :{text}"
    )


def resub(channel, room, login, uid, ms, text):
    return (
        f"@badge-info=subscriber/5;badges=subscriber/3;color=;display-name={login};emotes=;flags=;"
        f"id=10000000-0000-0000-0000-{uid:012d};login={login};mod=0;msg-id=resub;"
        f"msg-param-cumulative-months=5;room-id={room};subscriber=1;"
        f"system-msg={login}\\ssubscribed\\sat\\sTier\\s1.;tmi-sent-ts={ms};user-id={uid};"
        f"user-type= :tmi.twitch.tv USERNOTICE #{channel} :{text}"
    )


def clearchat(channel, room, login, uid, ms, duration=None):
    d = f"ban-duration={duration};" if duration else ""
    return f"@{d}room-id={room};target-user-id={uid};tmi-sent-ts={ms} :tmi.twitch.tv CLEARCHAT #{channel} :{login}"


def ms(day, secs):
    return (DAY1 + (day - 1) * 86400 + 18 * 3600 + secs) * 1000


def write_gz(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = "".join(l + "\n" for l in lines).encode()
    with open(path, "wb") as f:
        f.write(gzip.compress(data, mtime=0))


def write(path, lines, end="\n"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write("".join(l + end for l in lines).encode())


def main():
    c, r = "justchan", 1000
    day1 = [
        privmsg(c, r, "alpha", 201, ms(1, 0), "hi", first=1),
        privmsg(c, r, "bravo", 202, ms(1, 60), "hello"),
        resub(c, r, "charlie", 203, ms(1, 120), "five months!"),
        clearchat(c, r, "bravo", 202, ms(1, 180), duration=600),
    ]
    day2 = [
        privmsg(c, r, "alpha", 201, ms(2, 0), "back"),
        privmsg(c, r, "bravo", 202, ms(2, 30), "me too"),
    ]
    day10 = [
        privmsg(c, r, "alpha", 201, ms(10, 0), "bye"),
        clearchat(c, r, "alpha", 201, ms(10, 10)),
    ]
    base = os.path.join(HERE, "justlog", str(r), "2024", "3")
    write_gz(os.path.join(base, "1", "channel.txt.gz"), day1)
    write_gz(os.path.join(base, "2", "channel.txt.gz"), day2)
    write_gz(os.path.join(base, "10", "channel.txt.gz"), day10)
    write(os.path.join(base, "201.txt"), [day1[0], day2[0], day10[0]])

    c, r = "rustchan", 2000
    write(
        os.path.join(HERE, "rustlog", "rustchan-2024-03-04.txt"),
        [
            privmsg(c, r, "delta", 301, ms(4, 0), "first"),
            ":delta!delta@delta.tmi.twitch.tv JOIN #rustchan",
            privmsg(c, r, "echo", 302, ms(4, 90), "second"),
            "PING :tmi.twitch.tv",
            privmsg(c, r, "delta", 301, ms(4, 300), "third"),
        ],
        end="\r\n",
    )

    c, r = "prefchan", 4000
    no_ts = (
        f"@badge-info=;badges=;display-name=Foxtrot;emotes=;id=p1;room-id={r};user-id=401;"
        f"user-type= :foxtrot!foxtrot@foxtrot.tmi.twitch.tv PRIVMSG #{c} :no tmi-sent-ts here"
    )
    write(
        os.path.join(HERE, "prefixed.log"),
        [
            f"[2024-03-05T10:01:00Z] {no_ts}",
            f"2024-03-05T10:02:00Z {privmsg(c, r, 'foxtrot', 401, (DAY1 + 4 * 86400 + 37800) * 1000, 'ts wins')}",
            f":foxtrot!foxtrot@foxtrot.tmi.twitch.tv PART #{c}",
        ],
    )


if __name__ == "__main__":
    main()
