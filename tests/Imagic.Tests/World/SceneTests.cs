using Imagic.World;

namespace Imagic.Tests.World;

public class SceneTests
{
    static readonly SceneObject RedCircle = new(Shape.Circle, NamedColor.Red, Size.Large, GridPosition.TopLeft, Pose.Regular);

    [Fact]
    public void Problems_ObjectColourSameAsBackground_IsReported()
    {
        var scene = new Scene(Background.White, RedCircle with { Color = NamedColor.White });

        Assert.Contains(scene.Problems(), p => p.Contains("contrast"));
    }

    [Fact]
    public void Problems_LargeObjectsInAdjacentCells_AreTooClose()
    {
        var scene = new Scene(Background.Grey, RedCircle, RedCircle with { Position = GridPosition.Top });

        Assert.Contains(scene.Problems(), p => p.Contains("closer than"));
    }

    [Fact]
    public void Problems_SameCell_IsOverlap()
    {
        var scene = new Scene(Background.Grey, RedCircle with { Size = Size.Small }, RedCircle with { Size = Size.Small });

        Assert.False(scene.IsValid);
        Assert.True(WorldGeometry.Gap(scene.Primary, scene.Secondary!) < 0);
    }

    [Fact]
    public void Problems_SmallObjectsInAdjacentCells_AreFine()
    {
        var small = RedCircle with { Size = Size.Small };
        var scene = new Scene(Background.Grey, small, small with { Position = GridPosition.Top });

        Assert.Empty(scene.Problems());
    }

    [Fact]
    public void EveryObject_FitsInsideTheCanvas()
    {
        foreach (var size in Enum.GetValues<Size>())
            foreach (var pose in Enum.GetValues<Pose>())
                foreach (var position in Enum.GetValues<GridPosition>())
                    Assert.True(WorldGeometry.InsideCanvas(RedCircle with { Size = size, Pose = pose, Position = position }));
    }

    [Fact]
    public void Apply_EditGivingInvalidScene_Throws()
    {
        var scene = new Scene(Background.White, RedCircle);

        Assert.Throws<ArgumentException>(() => scene.Apply(new ColorEdit(NamedColor.White)));
    }

    [Fact]
    public void Apply_SeveralEdits_OnlyTheFinalSceneMustBeValid()
    {
        var scene = new Scene(Background.White, RedCircle);

        var edited = scene.Apply([new ColorEdit(NamedColor.White), new BackgroundEdit(Background.Black)]);

        Assert.Equal(new Scene(Background.Black, RedCircle with { Color = NamedColor.White }), edited);
    }

    [Fact]
    public void PositionAt_CellCentres_MapBackToTheirCell()
    {
        foreach (var position in Enum.GetValues<GridPosition>())
        {
            var (x, y) = WorldGeometry.Center(position);
            Assert.Equal(position, WorldGeometry.PositionAt(x, y));
        }
    }
}
