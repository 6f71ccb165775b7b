// Parity harness: reads OVF descriptors with govmomi's ovf package (the parser VM Operator uses)
// and prints the fields vmi-operator's own parser also reads. Built by build.sh; never vendored.
module vmi-operator.local/govmomi-parity

go 1.22

require github.com/vmware/govmomi v0.46.3
