namespace Imagic.World;

/// <summary>A linear RGB colour with channels in [0, 1].</summary>
public readonly record struct ColorF(float R, float G, float B)
{
    /// <summary>Euclidean distance in RGB space; at most √3.</summary>
    public float DistanceTo(ColorF other)
    {
        float dr = R - other.R, dg = G - other.G, db = B - other.B;
        return MathF.Sqrt(dr * dr + dg * dg + db * db);
    }

    /// <summary>(1 − t)·this + t·<paramref name="other"/>: what a pixel a fraction t covered by <paramref name="other"/> shows.</summary>
    public ColorF Lerp(ColorF other, float t) =>
        new(R + t * (other.R - R), G + t * (other.G - G), B + t * (other.B - B));
}

/// <summary>
/// The fixed RGB values of the world's colours and which object colours may be drawn on which background.
/// </summary>
/// <remarks>
/// The values are saturated and far apart so that a 32×32 image (and a generated image that is only
/// roughly right) still maps to the intended name. Two rules keep every scene readable:
/// an object colour differs from the background by at least <see cref="MinContrast"/> (this forbids
/// the same colour, and white on beige); and the detector can tell every pair of allowed object
/// colours apart even on anti-aliased edge pixels, which the palette test checks.
/// </remarks>
public static class Palette
{
    /// <summary>Smallest RGB distance allowed between an object colour and its background: 0.4.</summary>
    public const float MinContrast = 0.4f;

    static readonly ColorF[] ColorValues =
    [
        new(0.90f, 0.12f, 0.12f), // Red
        new(0.15f, 0.70f, 0.20f), // Green
        new(0.15f, 0.30f, 0.95f), // Blue
        new(0.98f, 0.88f, 0.10f), // Yellow
        new(0.55f, 0.15f, 0.80f), // Purple
        new(1.00f, 0.55f, 0.05f), // Orange
        new(1.00f, 1.00f, 1.00f), // White
        new(0.00f, 0.00f, 0.00f), // Black
    ];

    static readonly ColorF[] BackgroundValues =
    [
        new(0.50f, 0.50f, 0.50f), // Grey
        new(1.00f, 1.00f, 1.00f), // White
        new(0.00f, 0.00f, 0.00f), // Black
        new(0.92f, 0.85f, 0.68f), // Beige
    ];

    /// <summary>Every object colour, in enum order.</summary>
    public static IReadOnlyList<NamedColor> Colors { get; } = Enum.GetValues<NamedColor>();

    /// <summary>Every background, in enum order.</summary>
    public static IReadOnlyList<Background> Backgrounds { get; } = Enum.GetValues<Background>();

    /// <summary>The RGB value of an object colour.</summary>
    public static ColorF Of(NamedColor color) => ColorValues[(int)color];

    /// <summary>The RGB value of a background.</summary>
    public static ColorF Of(Background background) => BackgroundValues[(int)background];

    /// <summary>Whether an object of <paramref name="color"/> is clearly visible on <paramref name="background"/>.</summary>
    public static bool Contrasts(NamedColor color, Background background) =>
        Of(color).DistanceTo(Of(background)) >= MinContrast;

    /// <summary>The object colours allowed on <paramref name="background"/>, in enum order.</summary>
    public static IReadOnlyList<NamedColor> ColorsOn(Background background) => AllowedColors[(int)background];

    // Declared after the tables it reads: static fields initialise in textual order.
    static readonly NamedColor[][] AllowedColors =
        Backgrounds.Select(b => Colors.Where(c => Contrasts(c, b)).ToArray()).ToArray();
}
