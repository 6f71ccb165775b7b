// Command govmomi-parity reads OVF descriptors with govmomi's ovf package and prints, one JSON
// object per line, the fields that vmi-operator's Rust parser also reads. tests/pure/ovf_parity.rs
// compares the two; -bench times govmomi's parse of the same files for benches/ovf_parse.rs.
//
// Usage:
//
//	govmomi-parity FILE...             one JSON line per file
//	govmomi-parity -bench N FILE...    parse every file N times, print one JSON summary line
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/ovf"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// envelope is govmomi's Envelope plus the VirtualSystemCollection that govmomi v0.46.3 does not
// model yet. Newer govmomi (ToConfigSpec, which VM Operator uses) deploys the collection's first
// VirtualSystem with the collection's ProductSections when it has none; so do we, and so does
// this harness, with govmomi's own types for everything inside.
type envelope struct {
	ovf.Envelope
	VirtualSystemCollection *collection `xml:"VirtualSystemCollection"`
}

type collection struct {
	ovf.Content
	Product                 []ovf.ProductSection `xml:"ProductSection"`
	VirtualSystem           []ovf.VirtualSystem  `xml:"VirtualSystem"`
	VirtualSystemCollection []collection         `xml:"VirtualSystemCollection"`
}

// first returns the collection's first VirtualSystem (direct ones before nested collections:
// the decoder keeps no order between the two), with the nearest collection's products when the
// system has none.
func (c *collection) first() *ovf.VirtualSystem {
	var vs *ovf.VirtualSystem
	if len(c.VirtualSystem) > 0 {
		vs = &c.VirtualSystem[0]
	} else {
		for i := range c.VirtualSystemCollection {
			if vs = c.VirtualSystemCollection[i].first(); vs != nil {
				break
			}
		}
	}
	if vs != nil && len(vs.Product) == 0 {
		vs.Product = c.Product
	}
	return vs
}

type property struct {
	Key              string  `json:"key"`
	Type             string  `json:"type"`
	Qualifiers       *string `json:"qualifiers"`
	UserConfigurable *bool   `json:"userConfigurable"`
	Default          *string `json:"default"`
	Password         *bool   `json:"password"`
}

type product struct {
	Class       *string    `json:"class"`
	Instance    *string    `json:"instance"`
	Product     string     `json:"product"`
	Vendor      string     `json:"vendor"`
	Version     string     `json:"version"`
	FullVersion string     `json:"fullVersion"`
	Properties  []property `json:"properties"`
}

type osSection struct {
	ID          int16   `json:"id"`
	OSType      *string `json:"osType"`
	Version     *string `json:"version"`
	Description *string `json:"description"`
}

type disk struct {
	DiskID        string  `json:"diskId"`
	FileRef       *string `json:"fileRef"`
	Capacity      string  `json:"capacity"`
	Units         *string `json:"units"`
	PopulatedSize *int    `json:"populatedSize"`
	// CapacityBytes is what VM Operator computed before it moved to ToConfigSpec:
	// ParseInt(capacity) * ParseCapacityAllocationUnits(units), 0 when either fails.
	CapacityBytes int64 `json:"capacityBytes"`
}

type file struct {
	ID   string `json:"id"`
	Href string `json:"href"`
	Size uint   `json:"size"`
}

type result struct {
	File               string      `json:"file"`
	Error              string      `json:"error,omitempty"`
	HasVirtualSystem   bool        `json:"hasVirtualSystem"`
	InCollection       bool        `json:"inCollection"`
	ID                 string      `json:"id"`
	Name               *string     `json:"name"`
	OS                 []osSection `json:"os"`
	VirtualSystemTypes []*string   `json:"virtualSystemTypes"`
	HardwareVersion    int         `json:"hardwareVersion"`
	Firmware           string      `json:"firmware"`
	Products           []product   `json:"products"`
	Disks              []disk      `json:"disks"`
	References         []file      `json:"references"`
}

func read(path string, data []byte) result {
	r := result{File: path}
	var env envelope
	if err := xml.NewDecoder(bytes.NewReader(data)).Decode(&env); err != nil {
		r.Error = err.Error()
		return r
	}
	for _, f := range env.References {
		r.References = append(r.References, file{ID: f.ID, Href: f.Href, Size: f.Size})
	}
	if env.Disk != nil {
		for _, d := range env.Disk.Disks {
			out := disk{
				DiskID:        d.DiskID,
				FileRef:       d.FileRef,
				Capacity:      d.Capacity,
				Units:         d.CapacityAllocationUnits,
				PopulatedSize: d.PopulatedSize,
			}
			if c, _ := strconv.ParseInt(d.Capacity, 10, 64); c != 0 {
				if d.CapacityAllocationUnits != nil {
					c *= ovf.ParseCapacityAllocationUnits(*d.CapacityAllocationUnits)
				}
				out.CapacityBytes = c
			}
			r.Disks = append(r.Disks, out)
		}
	}
	vs := env.VirtualSystem
	if vs == nil && env.VirtualSystemCollection != nil {
		vs = env.VirtualSystemCollection.first()
		r.InCollection = vs != nil
	}
	if vs == nil {
		return r
	}
	r.HasVirtualSystem = true
	r.ID = vs.ID
	r.Name = vs.Name
	for _, o := range vs.OperatingSystem {
		r.OS = append(r.OS, osSection{ID: o.ID, OSType: o.OSType, Version: o.Version, Description: o.Description})
	}
	for i, hw := range vs.VirtualHardware {
		var vst *string
		if hw.System != nil {
			vst = hw.System.VirtualSystemType
		}
		r.VirtualSystemTypes = append(r.VirtualSystemTypes, vst)
		if i != 0 {
			continue
		}
		// VM Operator reads the first hardware section only.
		if vst != nil {
			if v, err := types.ParseHardwareVersion(*vst); err == nil {
				r.HardwareVersion = int(v)
			}
		}
		for _, c := range hw.Config {
			if c.Key == "firmware" {
				r.Firmware = c.Value
				break
			}
		}
	}
	for _, p := range vs.Product {
		out := product{
			Class: p.Class, Instance: p.Instance, Product: p.Product, Vendor: p.Vendor,
			Version: p.Version, FullVersion: p.FullVersion,
		}
		for _, prop := range p.Property {
			out.Properties = append(out.Properties, property{
				Key: prop.Key, Type: prop.Type, Qualifiers: prop.Qualifiers,
				UserConfigurable: prop.UserConfigurable, Default: prop.Default, Password: prop.Password,
			})
		}
		r.Products = append(r.Products, out)
	}
	return r
}

type benchResult struct {
	Files        int     `json:"files"`
	Bytes        int64   `json:"bytes"`
	Iterations   int     `json:"iterations"`
	Errors       int     `json:"errors"`
	Seconds      float64 `json:"seconds"`
	MBPerSec     float64 `json:"mb_per_s"`
	DescPerSec   float64 `json:"descriptors_per_s"`
	GovmomiLabel string  `json:"parser"`
}

func main() {
	iterations := flag.Int("bench", 0, "parse every file this many times and print timings instead of fields")
	flag.Parse()
	paths := flag.Args()
	data := make([][]byte, len(paths))
	var total int64
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "govmomi-parity: %v\n", err)
			os.Exit(2)
		}
		data[i] = b
		total += int64(len(b))
	}
	out := json.NewEncoder(os.Stdout)
	if *iterations > 0 {
		errs := 0
		start := time.Now()
		for n := 0; n < *iterations; n++ {
			for _, b := range data {
				if _, err := ovf.Unmarshal(bytes.NewReader(b)); err != nil {
					errs++
				}
			}
		}
		secs := time.Since(start).Seconds()
		_ = out.Encode(benchResult{
			Files: len(data), Bytes: total, Iterations: *iterations, Errors: errs / *iterations,
			Seconds:      secs,
			MBPerSec:     float64(total) * float64(*iterations) / secs / 1e6,
			DescPerSec:   float64(len(data)) * float64(*iterations) / secs,
			GovmomiLabel: "govmomi " + strings.TrimSpace(govmomiVersion),
		})
		return
	}
	for i, p := range paths {
		if err := out.Encode(read(p, data[i])); err != nil {
			fmt.Fprintf(os.Stderr, "govmomi-parity: %v\n", err)
			os.Exit(2)
		}
	}
}

// govmomiVersion is set by build.sh (-X main.govmomiVersion=...).
var govmomiVersion = "unknown"
