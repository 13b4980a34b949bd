#!/usr/bin/env python3
"""Turn Natural Earth's 1:110m land polygons (as TopoJSON, the npm package world-atlas
2.0.2, file land-110m.json) into the one SVG path the incident report draws its map with.

Equirectangular projection: x = (lon + 180) * 2, y = (90 - lat) * 2, so the path lives in
a 720 x 360 box and the report places a point with the same two lines. Coordinates are
rounded to 0.1 (about 5 km at the equator, far below what the map can show) and written
as relative moves, which keeps the file near 40 KB.

    python3 make-world.py land-110m.json > world-110m.path
"""
import json
import sys


def main(path):
    topo = json.load(open(path))
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)

    def ring(indexes):
        points = []
        for i in indexes:
            a = arcs[i] if i >= 0 else list(reversed(arcs[~i]))
            points.extend(a if not points else a[1:])
        return points

    out = []
    for geom in topo["objects"]["land"]["geometries"]:
        polys = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
        for poly in polys:
            for r in poly:
                pts = [(round((lon + 180) * 20), round((90 - lat) * 20)) for lon, lat in ring(r)]
                dedup = [pts[0]]
                for p in pts[1:]:
                    if p != dedup[-1]:
                        dedup.append(p)
                if len(dedup) < 3:
                    continue
                cmd = [f"M{dedup[0][0] / 10:g} {dedup[0][1] / 10:g}"]
                for (ax, ay), (bx, by) in zip(dedup, dedup[1:]):
                    cmd.append(f"l{(bx - ax) / 10:g} {(by - ay) / 10:g}")
                out.append("".join(cmd) + "z")
    sys.stdout.write("".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
