using Imagic.World;

namespace Imagic.Tests.World;

public class DetectionMatchTests
{
    static readonly SceneObject RedCircle = new(Shape.Circle, NamedColor.Red, Size.Large, GridPosition.TopLeft, Pose.Regular);
    static readonly SceneObject BlueStar = new(Shape.Star, NamedColor.Blue, Size.Small, GridPosition.BottomRight, Pose.Tall);

    static DetectedObject Found(SceneObject o, int area = 50) =>
        new(o.Shape, o.Color, o.Size, o.Position, o.Pose, area, 0.5, 0.5, 0);

    [Fact]
    public void Compare_AssignsThePrimaryWhateverTheDetectionOrder()
    {
        var scene = new Scene(Background.Grey, BlueStar, RedCircle);
        // The detector lists the larger red circle first, though the star is the primary.
        var detection = new Detection(Background.Grey, [Found(RedCircle, 80), Found(BlueStar, 10)]);

        var match = DetectionMatch.Compare(scene, detection);

        Assert.True(match.All);
    }

    [Fact]
    public void Compare_WrongColour_FailsOnlyColour()
    {
        var scene = new Scene(Background.Grey, RedCircle);
        var detection = new Detection(Background.Grey, [Found(RedCircle with { Color = NamedColor.Green })]);

        var match = DetectionMatch.Compare(scene, detection);

        Assert.False(match[SceneAttribute.Color]);
        Assert.All(Enum.GetValues<SceneAttribute>().Where(a => a != SceneAttribute.Color), a => Assert.True(match[a]));
        Assert.True(match.ObjectCount);
    }

    [Fact]
    public void Compare_MissingSecondObject_IsReported()
    {
        var scene = new Scene(Background.Grey, RedCircle, BlueStar);
        var detection = new Detection(Background.Grey, [Found(RedCircle)]);

        var match = DetectionMatch.Compare(scene, detection);

        Assert.True(match.Primary.All);
        Assert.False(match.Secondary!.Found);
        Assert.False(match.ObjectCount);
        Assert.False(match.All);
    }

    [Fact]
    public void Compare_NothingDetected_FailsEveryObjectAttribute()
    {
        var scene = new Scene(Background.Grey, RedCircle);

        var match = DetectionMatch.Compare(scene, new Detection(Background.White, []));

        Assert.False(match.Primary.Found);
        Assert.All(Enum.GetValues<SceneAttribute>(), a => Assert.False(match[a]));
    }

    [Fact]
    public void Compare_ExtraObject_FailsOnlyTheCount()
    {
        var scene = new Scene(Background.Grey, RedCircle);
        var detection = new Detection(Background.Grey, [Found(BlueStar, 90), Found(RedCircle, 40)]);

        var match = DetectionMatch.Compare(scene, detection);

        Assert.True(match.Primary.All);
        Assert.False(match.ObjectCount);
    }
}
