// Package lnddetect finds the local lnd for `l402 setup` and `l402 bake`:
// its directory, configuration, network, TLS certificate and macaroons.
//
// Find only reads files. Verify is the one step that talks to lnd, through
// a Prober the caller supplies, and Diagnose turns the raw errors of that
// call into the cause and the command that fixes it.
//
// The layouts Find knows, and where each was confirmed:
//
//   - --lnddir, then $LND_DIR.
//   - lnd's own default, btcutil.AppDataDir("lnd"): ~/.lnd, on macOS
//     ~/Library/Application Support/Lnd, on Windows %LOCALAPPDATA%\Lnd
//     (lnd config.go DefaultLndDir; btcutil appdata.go).
//   - litd (lightning-terminal config.go): lit.conf in
//     btcutil.AppDataDir("lit") (~/.lit), without section headers, lnd's
//     options prefixed "lnd.", the network in the top-level "network"
//     option. In integrated mode lnd's directory is lnd.lnddir, by default
//     lnd's own default (~/.lnd, not a directory under ~/.lit). In remote
//     mode remote.lnd.rpcserver, remote.lnd.tlscertpath and
//     remote.lnd.macaroonpath say where the lnd is.
//   - Umbrel: <umbrel>/app-data/lightning/data/lnd mounted as lnd's
//     /data/.lnd (getumbrel/umbrel-apps lightning/exports.sh and
//     docker-compose.yml), and <umbrel>/lnd before umbrelOS 0.5.
//   - RaspiBlitz: /mnt/hdd/app-data/lnd, earlier /mnt/hdd/lnd (raspiblitz
//     config scripts symlink ~/.lnd to it).
//   - RaspiBolt and MiniBolt: /data/lnd (their guides symlink
//     /home/admin/.lnd to it).
//   - myNode: /mnt/hdd/mynode/lnd (mynode_config.sh).
package lnddetect
