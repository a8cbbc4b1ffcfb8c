package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/purview-lab/purview/metrics"
)

// JSON writes the table as indented JSON:
//
//	{"title", "in_dist", "sets", "detectors",
//	 "cells": [{"detector", "supervised", "set", "metrics": {metrics.Result tags}, "fold_auroc"}]}
//
// Key order is fixed (structs, not maps) and floats keep full precision, so
// equal tables give byte-identical files. JSON has no NaN: an undefined metric
// (NaN or ±Inf) is written as null, and ReadJSON turns null back into NaN.
func (t *Table) JSON(w io.Writer) error {
	if _, err := t.index(); err != nil {
		return err
	}
	jt := jsonTable{Title: t.Title, InDist: t.InDist, Sets: t.Sets, Detectors: t.Detectors, Cells: make([]jsonCell, len(t.Cells))}
	for i, c := range t.Cells {
		m := c.Metrics
		jc := jsonCell{
			Detector: c.Detector, Supervised: c.Supervised, Set: c.Set,
			Metrics: jsonResult{
				AUROC: jsonFloat(m.AUROC), AUPRIn: jsonFloat(m.AUPRIn), AUPROut: jsonFloat(m.AUPROut),
				FPR95: jsonFloat(m.FPR95), FPR95In: jsonFloat(m.FPR95In), DetAcc: jsonFloat(m.DetAcc),
				Normal: m.Normal, Anomalous: m.Anomalous,
			},
		}
		if c.FoldAUROC != nil {
			jc.FoldAUROC = make([]jsonFloat, len(c.FoldAUROC))
			for k, v := range c.FoldAUROC {
				jc.FoldAUROC[k] = jsonFloat(v)
			}
		}
		jt.Cells[i] = jc
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // keep "<" and "&" in names readable
	if err := enc.Encode(jt); err != nil {
		return fmt.Errorf("report: json: %w", err)
	}
	return nil
}

// ReadJSON reads a table written by JSON (for example to re-render table.json
// in another format). Unknown keys are errors, null metrics become NaN, and
// the table is validated as every writer does.
func ReadJSON(r io.Reader) (*Table, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var jt jsonTable
	if err := dec.Decode(&jt); err != nil {
		return nil, fmt.Errorf("report: read json: %w", err)
	}
	t := &Table{Title: jt.Title, InDist: jt.InDist, Sets: jt.Sets, Detectors: jt.Detectors, Cells: make([]Cell, len(jt.Cells))}
	for i, jc := range jt.Cells {
		m := jc.Metrics
		c := Cell{
			Detector: jc.Detector, Supervised: jc.Supervised, Set: jc.Set,
			Metrics: metrics.Result{
				AUROC: float64(m.AUROC), AUPRIn: float64(m.AUPRIn), AUPROut: float64(m.AUPROut),
				FPR95: float64(m.FPR95), FPR95In: float64(m.FPR95In), DetAcc: float64(m.DetAcc),
				Normal: m.Normal, Anomalous: m.Anomalous,
			},
		}
		if jc.FoldAUROC != nil {
			c.FoldAUROC = make([]float64, len(jc.FoldAUROC))
			for k, v := range jc.FoldAUROC {
				c.FoldAUROC[k] = float64(v)
			}
		}
		t.Cells[i] = c
	}
	if _, err := t.index(); err != nil {
		return nil, fmt.Errorf("report: read json: %s", strings.TrimPrefix(err.Error(), "report: "))
	}
	return t, nil
}

type jsonTable struct {
	Title     string     `json:"title"`
	InDist    string     `json:"in_dist"`
	Sets      []string   `json:"sets"`
	Detectors []string   `json:"detectors"`
	Cells     []jsonCell `json:"cells"`
}

type jsonCell struct {
	Detector   string      `json:"detector"`
	Supervised bool        `json:"supervised"`
	Set        string      `json:"set"`
	Metrics    jsonResult  `json:"metrics"`
	FoldAUROC  []jsonFloat `json:"fold_auroc"`
}

// jsonResult mirrors metrics.Result with the same JSON tags (a test keeps the
// two in step) but NaN-safe floats.
type jsonResult struct {
	AUROC     jsonFloat `json:"auroc"`
	AUPRIn    jsonFloat `json:"aupr_in"`
	AUPROut   jsonFloat `json:"aupr_out"`
	FPR95     jsonFloat `json:"fpr95_anom_tpr"`
	FPR95In   jsonFloat `json:"fpr95_in_tpr"`
	DetAcc    jsonFloat `json:"det_acc"`
	Normal    int       `json:"n_normal"`
	Anomalous int       `json:"n_anomalous"`
}

// jsonFloat is a float64 that encodes NaN and ±Inf as null (and decodes null
// as NaN), in shortest round-trip form otherwise.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = jsonFloat(math.NaN())
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("want a number or null, have %s", b)
	}
	*f = jsonFloat(v)
	return nil
}
