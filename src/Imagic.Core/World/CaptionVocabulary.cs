namespace Imagic.World;

/// <summary>
/// The words and phrases captions are built from. The first entry of every list is the canonical
/// word, used by <see cref="Captioner.Canonical"/>; the others are synonyms for varied training captions.
/// </summary>
public static class CaptionVocabulary
{
    /// <summary>Names of each colour; canonical first.</summary>
    public static IReadOnlyList<string> Words(NamedColor color) => color switch
    {
        NamedColor.Red => ["red"],
        NamedColor.Green => ["green"],
        NamedColor.Blue => ["blue"],
        NamedColor.Yellow => ["yellow"],
        NamedColor.Purple => ["purple", "violet"],
        NamedColor.Orange => ["orange"],
        NamedColor.White => ["white"],
        NamedColor.Black => ["black"],
        _ => throw new ArgumentOutOfRangeException(nameof(color), color, null),
    };

    /// <summary>Names of each shape (nouns); canonical first.</summary>
    public static IReadOnlyList<string> Words(Shape shape) => shape switch
    {
        Shape.Circle => ["circle", "disc", "disk"],
        Shape.Square => ["square", "box"],
        Shape.Triangle => ["triangle"],
        Shape.Star => ["star"],
        Shape.Ring => ["ring", "donut", "hoop"],
        _ => throw new ArgumentOutOfRangeException(nameof(shape), shape, null),
    };

    /// <summary>Size adjectives; canonical first.</summary>
    public static IReadOnlyList<string> Words(Size size) => size switch
    {
        Size.Small => ["small", "little", "tiny"],
        Size.Medium => ["medium", "medium-sized", "mid-sized"],
        Size.Large => ["large", "big"],
        _ => throw new ArgumentOutOfRangeException(nameof(size), size, null),
    };

    /// <summary>Pose adjectives that go before the noun ("a tall red circle"); canonical first.</summary>
    public static IReadOnlyList<string> Words(Pose pose) => pose switch
    {
        Pose.Regular => ["regular", "normal", "unstretched"],
        Pose.Tall => ["tall", "vertically stretched", "narrow"],
        Pose.Wide => ["wide", "horizontally stretched", "flattened"],
        _ => throw new ArgumentOutOfRangeException(nameof(pose), pose, null),
    };

    /// <summary>Pose phrases that go after the noun ("a red circle stretched vertically").</summary>
    public static IReadOnlyList<string> PhrasesAfterNoun(Pose pose) => pose switch
    {
        Pose.Regular => ["with normal proportions", "that is not stretched"],
        Pose.Tall => ["stretched vertically", "that is tall", "stretched tall"],
        Pose.Wide => ["stretched horizontally", "that is wide", "squashed flat"],
        _ => throw new ArgumentOutOfRangeException(nameof(pose), pose, null),
    };

    /// <summary>Names of each background colour; canonical first.</summary>
    public static IReadOnlyList<string> Words(Background background) => background switch
    {
        Background.Grey => ["grey", "gray"],
        Background.White => ["white"],
        Background.Black => ["black"],
        Background.Beige => ["beige"],
        _ => throw new ArgumentOutOfRangeException(nameof(background), background, null),
    };

    /// <summary>
    /// Position phrases that follow a noun phrase ("in the top left", "on the left"); canonical first.
    /// </summary>
    public static IReadOnlyList<string> Phrases(GridPosition position)
    {
        var (column, row) = WorldGeometry.Cell(position);
        string[] vertical = row == 0 ? ["top", "upper"] : ["bottom", "lower"];
        string horizontal = column == 0 ? "left" : "right";
        if (row != 1 && column != 1)
            return
            [
                $"in the {vertical[0]} {horizontal}", $"in the {vertical[1]} {horizontal}",
                $"in the {vertical[0]}-{horizontal} corner", $"in the {vertical[1]} {horizontal} corner",
                $"at the {vertical[0]} {horizontal}",
            ];
        if (row != 1)
            return
            [
                $"at the {vertical[0]}", $"at the {vertical[0]} center", $"in the {vertical[0]} middle",
                $"at the {vertical[0]} of the image", $"near the {vertical[0]}",
            ];
        if (column != 1)
            return
            [
                $"on the {horizontal}", $"on the {horizontal} side", $"at the {horizontal}",
                $"in the middle {horizontal}", $"on the {horizontal} of the image",
            ];
        return ["in the center", "in the middle", "in the centre", "at the center", "in the center of the image"];
    }

    /// <summary>Short position labels for list-style captions ("top left", "left side", "center").</summary>
    public static IReadOnlyList<string> Labels(GridPosition position) => position switch
    {
        GridPosition.TopLeft => ["top left", "upper left", "top-left corner"],
        GridPosition.Top => ["top", "top center", "top middle"],
        GridPosition.TopRight => ["top right", "upper right", "top-right corner"],
        GridPosition.Left => ["left", "left side", "middle left"],
        GridPosition.Center => ["center", "middle", "centre"],
        GridPosition.Right => ["right", "right side", "middle right"],
        GridPosition.BottomLeft => ["bottom left", "lower left", "bottom-left corner"],
        GridPosition.Bottom => ["bottom", "bottom center", "bottom middle"],
        GridPosition.BottomRight => ["bottom right", "lower right", "bottom-right corner"],
        _ => throw new ArgumentOutOfRangeException(nameof(position), position, null),
    };
}
