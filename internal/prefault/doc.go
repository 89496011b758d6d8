// Package prefault backs freshly allocated memory with pages in one system
// call, before it is written: the flow table's slabs and index (analyze).
// Touching new memory page by page costs a page fault per 4 KiB, and on a
// virtual machine a fault is dear (on the PVM development machine, filling
// 144 MiB took 0.43 s of CPU touched page by page, 0.24 s populated first).
// On Linux it is madvise(MADV_POPULATE_WRITE) (Linux 5.14); elsewhere, or
// when the kernel refuses, nothing: the pages then fault in as before.
package prefault
