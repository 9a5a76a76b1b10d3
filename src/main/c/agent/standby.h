/*
 * Standby VMM protocol, version 1: `vessel-agent --vmm-client SOCKET -- ARGS...`
 * hands a Vessel command line to a standby VMM (`vessel vm standby`), which
 * runs it in its own, already warmed-up process.
 *
 * Keep this file and dev.vessel.machine.standby.StandbyRequest (Java) in lockstep: every
 * constant below has a twin there with the same value.
 *
 * Transport: AF_UNIX stream socket at SOCKET. Integers are big-endian. The
 * client checks with SO_PEERCRED that the standby runs as its own user (and
 * learns its pid); the standby checks the same of the client.
 *
 *   client -> standby  request (once):
 *                        u8[4] VS_REQUEST_MAGIC
 *                        u32   payload length, 1..VS_MAX_PAYLOAD
 *                        payload: NUL-terminated "key=value" strings:
 *                          arg=VALUE       the Vessel arguments, in order;
 *                                          1..VS_MAX_ARGS
 *                          env=NAME=VALUE  the client's VESSEL_* environment;
 *                                          0..VS_MAX_ENV, names unique
 *                          cwd=/ABS/PATH   the client's working directory; once
 *                        every VALUE at most VS_MAX_VALUE bytes.
 *                      The first bytes carry SCM_RIGHTS with exactly
 *                      VS_FDS descriptors: the client's stdin, stdout, stderr.
 *   standby -> client  u8[4] VS_ACCEPTED: the standby took the command and
 *                      runs it, with those descriptors as its stdio.
 *   standby -> client  u32 exit status 0..255, last; the standby then exits.
 *
 * Before VS_ACCEPTED the standby may close the connection without a word: it
 * ran nothing (bad request, another user, a command or environment it cannot
 * run exactly as a fresh process would). After it, the client keeps the
 * connection open until the status comes; the standby takes an end of stream
 * as the client gone and stops its VM at once.
 *
 * Exit status of the client: the command's; VS_NO_STANDBY when nothing ran
 * (no standby listening, or it declined): the caller runs the command itself;
 * 128+N when the standby ended without a status after the client passed it
 * signal N; VS_LOST (with a message) when it ended without a status otherwise.
 */
#ifndef VESSEL_STANDBY_H
#define VESSEL_STANDBY_H

#define VS_REQUEST_MAGIC "VSQ1"
#define VS_ACCEPTED "VSA1"
#define VS_HEADER_SIZE 8u
#define VS_MAX_PAYLOAD (64u * 1024u)
#define VS_MAX_ARGS 256u
#define VS_MAX_ENV 32u
#define VS_MAX_VALUE 8192u
#define VS_FDS 3

#define VS_NO_STANDBY 200
#define VS_LOST 125

#endif
