// What a mode does not serve yet, with why: the skip reasons the mode files
// share (ebpf.test.ts and ebpf-xdp.test.ts run the same mode). A gap closes by
// deleting its line here and the skips that name it.
// None open today.
export {};
