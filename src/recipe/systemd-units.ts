import { VM_PATHS } from './constants.js'

/**
 * The systemd units the recipe installs. Static text: the settings they need come from
 * recipe.env (EnvironmentFile), so nothing user-supplied is interpolated here.
 */

/** Later boots: finish what a reboot interrupted (the GPU driver), then re-check health. */
export const BOOT_UNIT = `[Unit]
Description=exollama instance setup (resumes after a reboot, re-checks Ollama on every boot)
Wants=network-online.target
After=network-online.target cloud-final.service docker.service nginx.service

[Service]
Type=oneshot
ExecStart=${VM_PATHS.bootScript} resume
# A resumed GPU setup pulls a multi-GB image; every step has its own timeout.
TimeoutStartSec=0

[Install]
WantedBy=multi-user.target
`

export const WATCHDOG_SERVICE = `[Unit]
Description=exollama watchdog: power off when idle or past the maximum lifetime

[Service]
Type=oneshot
EnvironmentFile=${VM_PATHS.recipeEnv}
ExecStart=${VM_PATHS.watchdogScript} run
`

export const WATCHDOG_TIMER = `[Unit]
Description=exollama watchdog, every minute

[Timer]
OnBootSec=1min
OnUnitActiveSec=1min
AccuracySec=10s

[Install]
WantedBy=timers.target
`

/**
 * Re-applies the metadata-server block whenever Docker (re)starts, reboots included: iptables
 * rules do not survive a reboot, and Docker recreates its chains. Fail-closed: if the rule
 * cannot be set, Docker does not count as started.
 */
export const DOCKER_DROP_IN = `[Service]
ExecStartPost=${VM_PATHS.bootScript} block-metadata
`
