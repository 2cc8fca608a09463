namespace Imagic.World;

/// <summary>Which attributes of one expected object a detected object got right.</summary>
/// <param name="Found">Whether any detected object was assigned to the expected one; if not, every attribute is false.</param>
/// <param name="Color">Whether the colour is right.</param>
/// <param name="Shape">Whether the shape is right.</param>
/// <param name="Size">Whether the size class is right.</param>
/// <param name="Position">Whether the grid cell is right.</param>
/// <param name="Pose">Whether the pose (stretch) is right.</param>
public sealed record ObjectMatch(bool Found, bool Color, bool Shape, bool Size, bool Position, bool Pose)
{
    /// <summary>The match for an expected object that no detected object was assigned to.</summary>
    public static ObjectMatch Missing { get; } = new(false, false, false, false, false, false);

    /// <summary>Compares a detected object with the expected one, attribute by attribute.</summary>
    public static ObjectMatch Of(SceneObject expected, DetectedObject detected) => new(
        true,
        expected.Color == detected.Color,
        expected.Shape == detected.Shape,
        expected.Size == detected.Size,
        expected.Position == detected.Position,
        expected.Pose == detected.Pose) { Detected = detected };

    /// <summary>The detected object assigned to the expected one; null when none was. It says what a wrong attribute came out as.</summary>
    public DetectedObject? Detected { get; init; }

    /// <summary>Whether the object was found with every attribute right.</summary>
    public bool All => Found && Color && Shape && Size && Position && Pose;

    /// <summary>How many of the five attributes are right.</summary>
    public int Count => (Color ? 1 : 0) + (Shape ? 1 : 0) + (Size ? 1 : 0) + (Position ? 1 : 0) + (Pose ? 1 : 0);

    /// <summary>Whether one object attribute is right; <see cref="SceneAttribute.Background"/> is not an object attribute.</summary>
    public bool this[SceneAttribute attribute] => attribute switch
    {
        SceneAttribute.Color => Color,
        SceneAttribute.Shape => Shape,
        SceneAttribute.Size => Size,
        SceneAttribute.Position => Position,
        SceneAttribute.Pose => Pose,
        _ => throw new ArgumentOutOfRangeException(nameof(attribute), attribute, "not an object attribute"),
    };
}

/// <summary>
/// How well a <see cref="Detection"/> agrees with the scene that should be in the image: the
/// basis of the benchmark's "edit success" (the edited attributes match the target scene) and
/// "preservation" (everything else still matches) metrics.
/// </summary>
/// <param name="Background">Whether the background is right.</param>
/// <param name="Primary">The primary object's match.</param>
/// <param name="Secondary">The second object's match; null when the expected scene has no second object.</param>
/// <param name="ObjectCount">Whether the image holds exactly as many objects as the scene.</param>
public sealed record DetectionMatch(bool Background, ObjectMatch Primary, ObjectMatch? Secondary, bool ObjectCount)
{
    /// <summary>Whether one attribute of the primary object, or the background, is right.</summary>
    public bool this[SceneAttribute attribute] =>
        attribute == SceneAttribute.Background ? Background : Primary[attribute];

    /// <summary>Whether the image shows exactly the expected scene.</summary>
    public bool All => Background && Primary.All && (Secondary?.All ?? true) && ObjectCount;

    /// <summary>
    /// Matches detected objects to the expected ones. An image does not say which object is the
    /// primary, so every assignment of detected objects to expected objects (or to none) is tried
    /// and the one with the most correct attributes over both objects wins; on a tie the larger
    /// detected objects are preferred.
    /// </summary>
    public static DetectionMatch Compare(Scene expected, Detection detected)
    {
        var found = detected.Objects;
        var bestPrimary = ObjectMatch.Missing;
        ObjectMatch? bestSecondary = expected.Secondary is null ? null : ObjectMatch.Missing;
        int bestScore = -1;
        // Index found.Count stands for "not assigned"; the loops visit larger objects first.
        for (int p = 0; p <= found.Count; p++)
        {
            var primary = p < found.Count ? ObjectMatch.Of(expected.Primary, found[p]) : ObjectMatch.Missing;
            if (expected.Secondary is null)
            {
                if (Score(primary) > bestScore)
                    (bestScore, bestPrimary) = (Score(primary), primary);
                continue;
            }
            for (int s = 0; s <= found.Count; s++)
            {
                if (s == p && s < found.Count)
                    continue;
                var secondary = s < found.Count ? ObjectMatch.Of(expected.Secondary, found[s]) : ObjectMatch.Missing;
                int score = Score(primary) + Score(secondary);
                if (score > bestScore)
                    (bestScore, bestPrimary, bestSecondary) = (score, primary, secondary);
            }
        }
        return new DetectionMatch(
            detected.Background == expected.Background, bestPrimary, bestSecondary,
            found.Count == expected.Objects.Count);
    }

    // A found object with no attribute right still beats a missing one.
    static int Score(ObjectMatch match) => match.Found ? 1 + match.Count : 0;
}
