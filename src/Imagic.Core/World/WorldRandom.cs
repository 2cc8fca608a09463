namespace Imagic.World;

/// <summary>
/// A small seeded random number generator (SplitMix64) for the shapes world.
/// </summary>
/// <remarks>
/// The world's data sets and benchmarks must be reproducible across .NET versions, and
/// <see cref="Random"/> does not promise a stable sequence for a seed. SplitMix64 (Steele, Lea and
/// Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014) is a few lines, passes
/// BigCrush, and is fully specified here, so the sequence for a seed never changes.
/// </remarks>
public sealed class WorldRandom
{
    ulong _state;

    /// <summary>Creates a generator whose whole sequence is fixed by <paramref name="seed"/>.</summary>
    public WorldRandom(long seed) => _state = unchecked((ulong)seed);

    /// <summary>The next 64 uniformly random bits.</summary>
    public ulong NextUInt64()
    {
        unchecked
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>A uniform integer in [0, <paramref name="exclusiveMax"/>).</summary>
    public int NextInt(int exclusiveMax)
    {
        if (exclusiveMax <= 0)
            throw new ArgumentOutOfRangeException(nameof(exclusiveMax), exclusiveMax, "must be positive");
        // Lemire's multiply-shift: unbiased enough for n far below 2^32 and needs no division.
        return (int)(((NextUInt64() >> 32) * (ulong)exclusiveMax) >> 32);
    }

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>True with probability <paramref name="p"/>.</summary>
    public bool Chance(double p) => NextDouble() < p;

    /// <summary>A standard normal sample (Box–Muller; one of the pair is discarded to keep no state).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(); // in (0, 1], so the log is finite
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>A uniformly chosen element of a non-empty list.</summary>
    public T Pick<T>(IReadOnlyList<T> items)
    {
        if (items.Count == 0)
            throw new ArgumentException("Cannot pick from an empty list.", nameof(items));
        return items[NextInt(items.Count)];
    }

    /// <summary>Shuffles <paramref name="items"/> in place (Fisher–Yates).</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
