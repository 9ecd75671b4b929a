// The one catalogue of the netfilter tools' errors: iptables-restore/-save,
// ipset and ip(8), which the iptables and ipvs modes run. Each code names the
// tool; the message says what it printed. Codes never change meaning.

export const IptablesErrorCode = {
  /** iptables-restore or iptables-save is not installed, or does not run. */
  Missing: 'ERR_IPTABLES_MISSING',
  /** The binaries run but the kernel's nat table is not usable (nf_tables with nft_compat, or iptable_nat). */
  Kernel: 'ERR_IPTABLES_KERNEL',
  /** iptables-restore refused the input; `line` holds the refused line when it names one. */
  Restore: 'ERR_IPTABLES_RESTORE',
  /** iptables-save failed. */
  Save: 'ERR_IPTABLES_SAVE',
} as const;
export type IptablesErrorCode = (typeof IptablesErrorCode)[keyof typeof IptablesErrorCode];

export const IpsetErrorCode = {
  /** No ipset binary (or no `ip` to enter the namespace with). */
  Missing: 'ERR_IPSET_MISSING',
  /** The binary runs but the kernel's ip_set is missing or refuses to talk to it. */
  Kernel: 'ERR_IPSET_KERNEL',
  /** `ipset restore` refused a line; `line` holds it. */
  Restore: 'ERR_IPSET_RESTORE',
  /** destroy() of sets a kernel component (an iptables rule, a list:set) still references; `sets` names them. */
  InUse: 'ERR_IPSET_IN_USE',
  /** A set name or member that would not survive a restore script (whitespace, too long). */
  Invalid: 'ERR_IPSET_INVALID',
  /** Any other failure of an ipset command, with what it printed. */
  Command: 'ERR_IPSET_COMMAND',
} as const;
export type IpsetErrorCode = (typeof IpsetErrorCode)[keyof typeof IpsetErrorCode];

/** ip(8), as the ipvs mode's kube-ipvs0 dummy interface uses it. */
export const DummyInterfaceErrorCode = {
  /** No `ip` binary. */
  IpMissing: 'ERR_IP_MISSING',
  /** The kernel has no dummy link driver (CONFIG_DUMMY). */
  Unsupported: 'ERR_DUMMY_UNSUPPORTED',
  /** A link of that name exists and is not a dummy: not ours to take over or delete. */
  NotDummy: 'ERR_DUMMY_NOT_DUMMY',
  /** Any other failure of an ip command, with what it printed. */
  IpCommand: 'ERR_IP_COMMAND',
} as const;
export type DummyInterfaceErrorCode = (typeof DummyInterfaceErrorCode)[keyof typeof DummyInterfaceErrorCode];
