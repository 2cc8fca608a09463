namespace Imagic.World;

/// <summary>
/// Draws scenes: flat background, then each object as a flat colour whose coverage of each pixel is
/// measured by supersampling. Deterministic: the same scene always gives the same bits.
/// </summary>
public static class SceneRenderer
{
    /// <summary>
    /// Renders <paramref name="scene"/> at <paramref name="size"/>×<paramref name="size"/> pixels (default 32)
    /// with <paramref name="supersample"/>² samples per pixel (default 4, i.e. 16).
    /// </summary>
    /// <remarks>
    /// A pixel a fraction α covered by an object shows lerp(background, colour, α), which is what
    /// box-filtered anti-aliasing gives and what the detector inverts to find colours on thin strokes.
    /// </remarks>
    public static SceneImage Render(Scene scene, int size = 32, int supersample = 4)
    {
        var background = Palette.Of(scene.Background);
        int plane = size * size;
        var chw = new float[3 * plane];
        Array.Fill(chw, background.R, 0, plane);
        Array.Fill(chw, background.G, plane, plane);
        Array.Fill(chw, background.B, 2 * plane, plane);

        var coverage = new float[plane];
        // Objects never overlap, so drawing order does not matter; the primary goes last anyway so it
        // would win if a caller built an overlapping scene.
        var objects = scene.Objects;
        for (int k = objects.Count - 1; k >= 0; k--)
        {
            var obj = objects[k];
            var (cx, cy) = WorldGeometry.Center(obj.Position);
            var (hx, hy) = WorldGeometry.HalfExtents(obj.Size, obj.Pose);
            Array.Clear(coverage);
            Rasterize(obj.Shape, cx, cy, hx, hy, size, supersample, coverage);
            var color = Palette.Of(obj.Color);
            for (int i = 0; i < plane; i++)
            {
                float a = coverage[i];
                if (a == 0)
                    continue;
                // Written as (1 − a)·old + a·colour so that covered pixels hold the palette value exactly.
                chw[i] = (1 - a) * chw[i] + a * color.R;
                chw[plane + i] = (1 - a) * chw[plane + i] + a * color.G;
                chw[2 * plane + i] = (1 - a) * chw[2 * plane + i] + a * color.B;
            }
        }
        return new SceneImage(size, chw);
    }

    /// <summary>
    /// Adds the coverage (0–1) of one shape centred at (cx, cy) with half-extents (hx, hy), all in
    /// canvas units, to <paramref name="coverage"/> (size² floats, row-major). Only pixels under the
    /// shape's bounding box are visited.
    /// </summary>
    public static void Rasterize(Shape shape, double cx, double cy, double hx, double hy,
        int size, int supersample, float[] coverage)
    {
        if (supersample < 1)
            throw new ArgumentOutOfRangeException(nameof(supersample), supersample, "must be at least 1");
        if (coverage.Length != size * size)
            throw new ArgumentException($"Coverage needs {size * size} floats, got {coverage.Length}.", nameof(coverage));

        int x0 = Math.Max(0, (int)Math.Floor((cx - hx) * size));
        int x1 = Math.Min(size - 1, (int)Math.Ceiling((cx + hx) * size));
        int y0 = Math.Max(0, (int)Math.Floor((cy - hy) * size));
        int y1 = Math.Min(size - 1, (int)Math.Ceiling((cy + hy) * size));
        float weight = 1f / (supersample * supersample);
        for (int py = y0; py <= y1; py++)
            for (int px = x0; px <= x1; px++)
            {
                int hits = 0;
                for (int sy = 0; sy < supersample; sy++)
                {
                    double dy = (py + (sy + 0.5) / supersample) / size - cy;
                    for (int sx = 0; sx < supersample; sx++)
                    {
                        double dx = (px + (sx + 0.5) / supersample) / size - cx;
                        if (WorldGeometry.Contains(shape, dx, dy, hx, hy))
                            hits++;
                    }
                }
                coverage[py * size + px] += hits * weight;
            }
    }
}
