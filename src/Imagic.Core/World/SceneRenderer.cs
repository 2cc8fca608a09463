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
        if (scene.Detail is not null)
            return RenderDetailed(scene, size, supersample);
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
    /// The coverage (0–1) of one object at each pixel of a <paramref name="size"/>×<paramref name="size"/> render
    /// (row-major), exactly as <see cref="Render"/> blends it: the object's mask, for region metrics.
    /// </summary>
    public static float[] Coverage(SceneObject obj, int size, int supersample = 4)
    {
        var coverage = new float[size * size];
        var p = WorldGeometry.Place(obj);
        if (obj.Detail is null)
            Rasterize(obj.Shape, p.Cx, p.Cy, p.Hx, p.Hy, size, supersample, coverage);
        else
            Rasterize(obj.Shape, p.Cx, p.Cy, p.Hx, p.Hy, p.Angle, size, supersample, coverage);
        return coverage;
    }

    /// <summary>
    /// Renders a world-v2 scene: the textured background at each pixel centre, then the clutter, then each
    /// object in its shade, placed, scaled and rotated by its detail (<see cref="WorldGeometry.Place"/>).
    /// </summary>
    static SceneImage RenderDetailed(Scene scene, int size, int supersample)
    {
        var detail = scene.Detail!;
        int plane = size * size;
        var chw = new float[3 * plane];
        var waves = detail.Waves();
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                var c = detail.BackgroundAt(scene.Background, (x + 0.5) / size, (y + 0.5) / size, waves);
                int i = y * size + x;
                (chw[i], chw[plane + i], chw[2 * plane + i]) = (c.R, c.G, c.B);
            }
        var coverage = new float[plane];
        if (detail.Clutter is { } clutter)
        {
            Rasterize(clutter.Shape, clutter.X, clutter.Y, clutter.HalfExtent, clutter.HalfExtent, 0, size, supersample, coverage);
            Blend(chw, coverage, Palette.Of(clutter.Color));
        }
        var objects = scene.Objects;
        for (int k = objects.Count - 1; k >= 0; k--)
        {
            var obj = objects[k];
            var p = WorldGeometry.Place(obj);
            Array.Clear(coverage);
            Rasterize(obj.Shape, p.Cx, p.Cy, p.Hx, p.Hy, p.Angle, size, supersample, coverage);
            Blend(chw, coverage, (obj.Detail ?? ObjectDetail.None).Shade(obj.Color));
        }
        return new SceneImage(size, chw);
    }

    static void Blend(float[] chw, float[] coverage, ColorF color)
    {
        int plane = coverage.Length;
        for (int i = 0; i < plane; i++)
        {
            float a = coverage[i];
            if (a == 0)
                continue;
            chw[i] = (1 - a) * chw[i] + a * color.R;
            chw[plane + i] = (1 - a) * chw[plane + i] + a * color.G;
            chw[2 * plane + i] = (1 - a) * chw[2 * plane + i] + a * color.B;
        }
    }

    /// <summary>
    /// Adds the coverage (0–1) of one shape rotated by <paramref name="angle"/> radians (clockwise on screen)
    /// about its centre (cx, cy); otherwise as the upright overload. Only pixels under the rotated bounding box are visited.
    /// </summary>
    public static void Rasterize(Shape shape, double cx, double cy, double hx, double hy, double angle,
        int size, int supersample, float[] coverage)
    {
        if (supersample < 1)
            throw new ArgumentOutOfRangeException(nameof(supersample), supersample, "must be at least 1");
        if (coverage.Length != size * size)
            throw new ArgumentException($"Coverage needs {size * size} floats, got {coverage.Length}.", nameof(coverage));
        var (ex, ey) = new ObjectPlacement(cx, cy, hx, hy, angle).Extents;
        double cos = Math.Cos(angle), sin = Math.Sin(angle);
        int x0 = Math.Max(0, (int)Math.Floor((cx - ex) * size));
        int x1 = Math.Min(size - 1, (int)Math.Ceiling((cx + ex) * size));
        int y0 = Math.Max(0, (int)Math.Floor((cy - ey) * size));
        int y1 = Math.Min(size - 1, (int)Math.Ceiling((cy + ey) * size));
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
                        if (WorldGeometry.Contains(shape, cos * dx + sin * dy, -sin * dx + cos * dy, hx, hy))
                            hits++;
                    }
                }
                coverage[py * size + px] += hits * weight;
            }
    }

    /// <summary>
    /// Adds the coverage (0–1) of one shape centred at (cx, cy) with half-extents (hx, hy), all in
    /// canvas units, to <paramref name="coverage"/> (size² floats, row-major). Only pixels under the
    /// shape's bounding box are visited.
    /// </summary>
    public static void Rasterize(Shape shape, double cx, double cy, double hx, double hy,
        int size, int supersample, float[] coverage) =>
        // At angle 0 the rotation is exact (cos 0 = 1, sin 0 = 0), so this is the upright shape bit for bit.
        Rasterize(shape, cx, cy, hx, hy, 0, size, supersample, coverage);
}
