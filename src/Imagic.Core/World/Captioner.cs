namespace Imagic.World;

/// <summary>
/// Describes scenes in words: varied captions for training the text-to-image model, and one
/// canonical caption per scene for edit prompts and the benchmark.
/// </summary>
/// <remarks>
/// <para>Which attributes a random caption mentions (the canonical caption mentions all):</para>
/// <list type="bullet">
/// <item>Primary object: shape, colour and position always; size always unless Medium
/// (omitted with probability <see cref="OmitMediumSize"/>); pose always unless Regular
/// (omitted with probability <see cref="OmitRegularPose"/>). A caption that leaves out a word thus
/// only ever leaves out the common default, so "a red circle" still means what it says.</item>
/// <item>Background: mentioned with probability <see cref="MentionBackground"/>.</item>
/// <item>Second object: shape, colour and position always; size and a non-regular pose each with
/// probability <see cref="MentionSecondaryDetail"/>, a regular pose never.</item>
/// </list>
/// <para>The longest captions are about 35 words, well inside CLIP's 77-token window.</para>
/// </remarks>
public static class Captioner
{
    /// <summary>Chance that a random caption leaves out a Medium primary size: 0.3.</summary>
    public const double OmitMediumSize = 0.3;

    /// <summary>Chance that a random caption leaves out a Regular primary pose: 0.6.</summary>
    public const double OmitRegularPose = 0.6;

    /// <summary>Chance that a random caption mentions the background: 0.5.</summary>
    public const double MentionBackground = 0.5;

    /// <summary>Chance that a random caption mentions the second object's size, and its pose if not regular: 0.6.</summary>
    public const double MentionSecondaryDetail = 0.6;

    /// <summary>
    /// The canonical caption: every attribute, fixed words and order, e.g.
    /// "a large tall red circle in the top left on a grey background" or
    /// "a small regular blue star on the left and a large wide white ring at the bottom, on a black background".
    /// Imagic's target text for an edit is the canonical caption of the edited scene.
    /// </summary>
    public static string Canonical(Scene scene)
    {
        string background = $"on a {CaptionVocabulary.Words(scene.Background)[0]} background";
        string primary = CanonicalObject(scene.Primary);
        return scene.Secondary is null
            ? FixArticles($"{primary} {background}")
            : FixArticles($"{primary} and {CanonicalObject(scene.Secondary)}, {background}");
    }

    static string CanonicalObject(SceneObject obj) =>
        $"a {CaptionVocabulary.Words(obj.Size)[0]} {CaptionVocabulary.Words(obj.Pose)[0]} " +
        $"{CaptionVocabulary.Words(obj.Color)[0]} {CaptionVocabulary.Words(obj.Shape)[0]} " +
        CaptionVocabulary.Phrases(obj.Position)[0];

    /// <summary>
    /// A TEdBench-style text for an edit: the primary object's colour and shape, and only the
    /// <paramref name="named"/> attributes besides, in canonical words: "a blue square" (colour edit),
    /// "a tall red circle" (pose), "a red star in the top left" (position), "a red circle on a white background"
    /// (background). It never mentions the second object, the clutter or, unless named, the background.
    /// </summary>
    /// <remarks>
    /// TEdBench (Kawar et al., CVPR 2023) pairs each image with a short text of what the edited image should
    /// show ("a photo of a sitting dog"), not a full description; suite shapes-v2 follows it.
    /// </remarks>
    public static string EditTarget(Scene scene, IReadOnlyCollection<SceneAttribute> named)
    {
        var o = scene.Primary;
        var words = new List<string> { "a" };
        if (named.Contains(SceneAttribute.Size))
            words.Add(CaptionVocabulary.Words(o.Size)[0]);
        if (named.Contains(SceneAttribute.Pose))
            words.Add(CaptionVocabulary.Words(o.Pose)[0]);
        words.Add(CaptionVocabulary.Words(o.Color)[0]);
        words.Add(CaptionVocabulary.Words(o.Shape)[0]);
        if (named.Contains(SceneAttribute.Position))
            words.Add(CaptionVocabulary.Phrases(o.Position)[0]);
        if (named.Contains(SceneAttribute.Background))
            words.Add($"on a {CaptionVocabulary.Words(scene.Background)[0]} background");
        return FixArticles(string.Join(' ', words));
    }

    /// <summary>
    /// A caption that leaves things out, as people write them: the primary object alone ("a big red circle"),
    /// the object and the background ("a red circle on a grey background"), or the object and its position
    /// ("a red circle in the top left"), a third each. Size and pose are each named half the time, whatever
    /// their value, so "a red circle" comes to mean any red circle; the second object is never named.
    /// </summary>
    public static string Partial(Scene scene, WorldRandom rng)
    {
        var o = scene.Primary;
        var adjectives = new List<string>();
        if (rng.Chance(0.5))
            adjectives.Add(Choose(CaptionVocabulary.Words(o.Size), rng));
        if (rng.Chance(0.5))
            adjectives.Add(Choose(CaptionVocabulary.Words(o.Pose), rng));
        adjectives.Add(Choose(CaptionVocabulary.Words(o.Color), rng));
        string noun = $"{rng.Pick(["a", "a", "a", "one"])} {string.Join(' ', adjectives)} {Choose(CaptionVocabulary.Words(o.Shape), rng)}";
        string caption = rng.NextInt(3) switch
        {
            0 => noun,
            1 => rng.Chance(0.5)
                ? $"{noun} on a {Choose(CaptionVocabulary.Words(scene.Background), rng)} background"
                : $"on a {Choose(CaptionVocabulary.Words(scene.Background), rng)} background, {noun}",
            _ => $"{noun} {Choose(CaptionVocabulary.Phrases(o.Position), rng)}",
        };
        if (!caption.StartsWith("on ", StringComparison.Ordinal) && rng.Chance(0.15))
            caption = $"{rng.Pick(["a picture of", "an image of", "a drawing of"])} {caption}";
        return FixArticles(caption);
    }

    /// <summary>A random caption of <paramref name="scene"/>, drawing templates, synonyms and word order from <paramref name="rng"/>.</summary>
    public static string Caption(Scene scene, WorldRandom rng)
    {
        var primary = Describe(scene.Primary, rng, isPrimary: true);
        var secondary = scene.Secondary is null ? null : Describe(scene.Secondary, rng, isPrimary: false);
        string? background = rng.Chance(MentionBackground) ? Choose(CaptionVocabulary.Words(scene.Background), rng) : null;

        // List style: "red circle, large, left side, on a grey background".
        if (rng.Chance(0.2))
        {
            var items = new List<string> { primary.AsList(rng) };
            if (secondary is not null)
                items.Add(secondary.AsList(rng));
            if (background is not null)
                items.Add(rng.Chance(0.5) ? $"{background} background" : $"on a {background} background");
            return FixArticles(string.Join(secondary is null ? ", " : "; ", items));
        }

        string objects;
        if (secondary is null)
            objects = primary.AsSentence(rng, positionFirst: rng.Chance(0.15));
        else
        {
            // Either object may come first; only the first may open with its position
            // ("in the top left, a red circle and ..."), which keeps each position next to its object.
            bool swap = rng.Chance(0.3);
            var (first, second) = swap ? (secondary, primary) : (primary, secondary);
            string joiner = swap ? "and" : rng.Pick(["and", "and", "with", "next to"]);
            objects = $"{first.AsSentence(rng, positionFirst: rng.Chance(0.15))} {joiner} {second.AsSentence(rng, positionFirst: false)}";
        }
        string sentence = background is null ? objects : rng.NextInt(3) switch
        {
            0 => $"{objects} on a {background} background",
            1 => $"on a {background} background, {objects}",
            _ => $"{objects}, {rng.Pick(["against a", "with a", "on a plain"])} {background} background",
        };
        if (!sentence.StartsWith("on ", StringComparison.Ordinal) && !sentence.StartsWith("in ", StringComparison.Ordinal)
            && !sentence.StartsWith("at ", StringComparison.Ordinal) && !sentence.StartsWith("near ", StringComparison.Ordinal)
            && rng.Chance(0.15))
            sentence = $"{rng.Pick(["a picture of", "an image of", "a drawing of", "a simple illustration of"])} {sentence}";
        return FixArticles(sentence);
    }

    static ObjectWords Describe(SceneObject obj, WorldRandom rng, bool isPrimary)
    {
        bool mentionSize = isPrimary
            ? obj.Size != Size.Medium || !rng.Chance(OmitMediumSize)
            : rng.Chance(MentionSecondaryDetail);
        bool mentionPose = isPrimary
            ? obj.Pose != Pose.Regular || !rng.Chance(OmitRegularPose)
            : obj.Pose != Pose.Regular && rng.Chance(MentionSecondaryDetail);
        return new ObjectWords(
            Choose(CaptionVocabulary.Words(obj.Shape), rng),
            Choose(CaptionVocabulary.Words(obj.Color), rng),
            mentionSize ? Choose(CaptionVocabulary.Words(obj.Size), rng) : null,
            mentionPose ? obj.Pose : null,
            obj.Position);
    }

    // The canonical word half the time, otherwise any word of the list, so synonyms are common
    // enough to learn but the canonical word (the one edit prompts use) dominates.
    static string Choose(IReadOnlyList<string> words, WorldRandom rng) =>
        rng.Chance(0.5) ? words[0] : rng.Pick(words);

    sealed record ObjectWords(string Shape, string Color, string? Size, Pose? Pose, GridPosition Position)
    {
        // "a big tall red circle in the top left", "a red circle stretched vertically on the left",
        // or with positionFirst "in the top left, a big tall red circle". The pose phrase after the
        // noun stays next to it so that in two-object captions it cannot attach to the other object.
        public string AsSentence(WorldRandom rng, bool positionFirst)
        {
            var adjectives = new List<string>();
            string? poseAfter = null;
            if (Size is not null)
                adjectives.Add(Size);
            if (Pose is { } pose)
            {
                if (rng.Chance(0.3))
                    poseAfter = Choose(CaptionVocabulary.PhrasesAfterNoun(pose), rng);
                else
                    adjectives.Add(Choose(CaptionVocabulary.Words(pose), rng));
            }
            adjectives.Add(Color);
            // Mostly English adjective order (size, shape, colour); sometimes scrambled so the
            // model does not rely on word positions.
            if (rng.Chance(0.15))
                rng.Shuffle(adjectives);
            string position = Choose(CaptionVocabulary.Phrases(Position), rng);
            string determiner = rng.Pick(["a", "a", "a", "one"]);
            string noun = $"{determiner} {string.Join(' ', adjectives)} {Shape}";
            if (poseAfter is not null)
                noun = $"{noun} {poseAfter}";
            return positionFirst ? $"{position}, {noun}" : $"{noun} {position}";
        }

        // "red circle, large, tall, left side"
        public string AsList(WorldRandom rng)
        {
            var parts = new List<string> { $"{Color} {Shape}" };
            if (Size is not null)
                parts.Add(Size);
            if (Pose is { } pose)
                parts.Add(Choose(CaptionVocabulary.Words(pose), rng));
            parts.Add(Choose(CaptionVocabulary.Labels(Position), rng));
            return string.Join(", ", parts);
        }
    }

    // "a orange" → "an orange". Every vowel-initial word in the vocabulary takes "an".
    static string FixArticles(string text)
    {
        var words = text.Split(' ');
        for (int i = 0; i + 1 < words.Length; i++)
        {
            if (words[i] is "a" or "A" && "aeiou".Contains(words[i + 1][0]))
                words[i] += "n";
        }
        return string.Join(' ', words);
    }
}
